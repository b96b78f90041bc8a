"""Chat frontends' own task prompts, told apart from users' questions.

Open WebUI (and LibreChat-style frontends that copied its templates) asks the chat model itself for a title, tags,
follow-up suggestions, search queries or an autocompletion after each exchange: one user message that starts with
``### Task:`` and quotes the conversation in ``<chat_history>`` (or the typed text in ``<text>``). Answered as a
question, each would run a whole retrieval and either abstain or write tags from unrelated passages. Recognised,
it is answered by plain generation over that prompt alone: no rewrite, retrieval, reranking or citations, a short
token budget. A frontend's RAG template (``<context>`` and ``<user_query>``, a question with its own passages) is
not a task: it is answered as a question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragstream.schemas.generation import ChatMessage

_HEADER = re.compile(r"\A\s*###\s*Task:")
_TASK_INPUTS = ("<chat_history>", "<text>")
# what each template asks for, looked up in the template's own text (before the quoted conversation)
_KINDS = (('"follow_ups"', "follow_ups"), ('"tags"', "tags"), ('"title"', "title"), ('"queries"', "queries"),
          ("autocompletion", "autocomplete"), ('"prompt"', "image_prompt"), ("emoji", "emoji"))


def client_task(messages: Sequence[ChatMessage]) -> str | None:
    """The kind of frontend task the request is (``title``, ``tags``, ``follow_ups``, ``queries``,
    ``autocomplete``, ``image_prompt``, ``emoji`` or ``other``), or None for a user's question."""
    users = [m for m in messages if m.role == "user"]
    if len(users) != 1 or messages[-1].role != "user" or not _HEADER.match(users[0].content):
        return None
    prompt = users[0].content
    starts = [prompt.find(marker) for marker in _TASK_INPUTS if marker in prompt]
    if not starts:
        return None
    template = prompt[:min(starts)]
    return next((kind for word, kind in _KINDS if word in template), "other")
