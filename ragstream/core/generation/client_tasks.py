"""Chat frontends' own task prompts, told apart from users' questions.

After each exchange Open WebUI asks the chat model itself for a title, tags and follow-up suggestions (and, where
enabled, search queries or an autocompletion): one user message that starts with ``### Task:`` and ends with the
conversation quoted in ``<chat_history>`` (or, for autocompletion, the typed text in ``<text>``). Answered as a
question, each would run a whole retrieval and either abstain or write tags from unrelated passages. Recognised,
it is answered by plain generation over that prompt alone: no rewrite, retrieval, reranking or citations. A
frontend's RAG template (also a ``### Task:``, with ``<context>`` and the user's question after it) is a question,
and so is a question that merely mentions those tags. A client can send such a prompt on purpose and get an
ungrounded answer; ``RAGSTREAM_API__CLIENT_TASKS=false`` turns the recognition off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragstream.schemas.generation import ChatMessage

_HEADER = re.compile(r"\A\s*###\s*Task:")
# the quoted input closes the prompt (autocompletion adds an empty output heading after it)
_CLOSING = re.compile(r"(?:</chat_history>|</text>\s*(?:#+\s*Output:)?)\s*\Z")
# what each template asks for, looked up in the template's own text (before the quoted conversation)
_KINDS = (('"follow_ups"', "follow_ups"), ('"tags"', "tags"), ('"title"', "title"), ('"queries"', "queries"),
          ("autocompletion", "autocomplete"), ('"prompt"', "image_prompt"))


def client_task(messages: Sequence[ChatMessage]) -> str | None:
    """The kind of frontend task the request is (``title``, ``tags``, ``follow_ups``, ``queries``,
    ``autocomplete``, ``image_prompt`` or ``other``), or None for a user's question."""
    users = [m for m in messages if m.role == "user"]
    if len(users) != 1 or messages[-1].role != "user":
        return None
    prompt = users[0].content
    if not _HEADER.match(prompt) or not _CLOSING.search(prompt):
        return None
    starts = [i for i in (prompt.find("<chat_history>"), prompt.find("<text>")) if i >= 0]
    template = prompt[:min(starts)] if starts else ""
    if not starts or "<context>" in template:
        return None
    return next((kind for word, kind in _KINDS if word in template), "other")
