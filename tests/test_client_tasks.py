"""Chat frontends' task prompts (Open WebUI's title, tags, follow-ups, queries, autocompletion) are told apart from
users' questions and answered by plain generation: no retrieval, no abstention, no sources. Fast: local stages and
the fake models. The prompts follow the shape of Open WebUI 0.12's default templates as it renders them (the
browser test, tests/test_open_webui.py, sends the real ones)."""

from __future__ import annotations

import asyncio

import pytest

from ragstream.core.generation.client_tasks import client_task
from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import ApiSettings, ContextSettings, Settings
from ragstream.core.stages.passage import Passage
from ragstream.schemas.generation import ChatMessage
from ragstream.services.api.chat import ChatRun
from ragstream.services.api.metrics import QueryMetrics
from ragstream.services.api.pipeline import QueryPipeline
from testkit.handles import ListRetrieval, local_stages

HISTORY = "<chat_history>\nUSER: How many vacation days do employees get?\nASSISTANT: Twenty-five [1].\n</chat_history>"
TEMPLATES = {
    "title": '### Task:\nGenerate a concise title summarizing the chat history.\n### Guidelines:\n- Keep it short.\n'
             '### Output:\nJSON format: { "title": "your concise title here" }\n### Chat History:\n' + HISTORY,
    "tags": '### Task:\nGenerate 1-3 broad tags categorizing the main themes of the chat history.\n\n### Output:\n'
            'JSON format: { "tags": ["tag1", "tag2", "tag3"] }\n\n### Chat History:\n' + HISTORY,
    "follow_ups": '### Task:\nPredict 3-5 useful messages this user might naturally send next.\n### Output:\n'
                  'JSON format: { "follow_ups": ["Suggested next message 1"] }\n### Chat History:\n' + HISTORY,
    "queries": '### Task:\nAnalyze the chat history to determine the necessity of generating search queries.\n'
               '### Output:\nStrictly return in JSON format: \n{\n  "queries": ["query1", "query2"]\n}\n\n'
               '### Chat History:\n' + HISTORY,
    "autocomplete": "### Task:\nYou are an autocompletion system. Continue the text in `<text>`.\n### Input:\n"
                    "<type>General</type>  \n<text>How many vacation</text>  \n#### Output:\n",
}
CORPUS = {"acme": [Passage(id="acme/leave/3/0", doc_id="leave", version=3, chunk_no=0, title="Leave policy", score=0,
                           text="Employees receive twenty-five vacation days per year. Unused days expire.")]}


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_each_frontend_task_is_recognised_by_its_template(kind):
    assert client_task(user(TEMPLATES[kind])) == kind


@pytest.mark.parametrize("messages", [
    user("How many vacation days do employees get?"),
    user("### Task:\nSummarise our leave policy for me."),  # a user's own heading, no quoted conversation
    user("### Task:\nRespond to the user query using the provided context.\n<context>\n<source id=\"1\">The "
         "<chat_history> tag ...</source>\n</context>\n\nHow do I close a </chat_history>"),  # a RAG template
    user("### Task:\nFix this SVG: <text>label</text> and tell me why <chat_history> breaks it."),  # ends otherwise
    [*user(TEMPLATES["title"]), ChatMessage(role="assistant", content="{}"), *user("And sick days?")],
], ids=["question", "heading only", "rag template", "tags mentioned", "conversation"])
def test_questions_are_not_tasks(messages):
    assert client_task(messages) is None


def answer(messages: list[ChatMessage], api: ApiSettings | None = None) -> tuple[ChatRun, FakeModelClient]:
    settings = Settings(context=ContextSettings(min_coverage=None), api=api or ApiSettings())
    client = FakeModelClient(settings.models.embedder.dimension)

    async def chat():
        query = QueryPipeline(await local_stages(settings, ListRetrieval(CORPUS, client), client), settings)
        grounding = await query.ground("acme", messages, query_filter=None, top_k=None, rewrite=None,
                                       max_tokens=None, temperature=0.0, top_p=1.0, stop=[], seed=None)
        run = ChatRun(query, grounding, "ragstream", QueryMetrics(), retry_after_s=2)
        await run.start()
        await run.completion()
        return run, query

    run, query = asyncio.run(chat())
    skipped = [stage.calls == [] for stage in (query.stages.embedding, query.stages.retrieval)]
    assert skipped == [bool(run.grounding.task)] * 2, "a task runs no retrieval; a question does"
    return run, client


def test_a_task_is_plain_generation_over_its_prompt_with_a_short_budget_and_no_sources():
    run, client = answer(user(TEMPLATES["title"]), ApiSettings(client_task_max_tokens=12))
    assert run.grounding.task == "title" and run.grounding.sources == []
    assert ("generate", 1) in client.calls
    assert run.grounding.request.messages == user(TEMPLATES["title"]) and run.grounding.request.max_tokens == 12
    assert run.answer.text and run.citations() == ([], "", [])


def test_with_client_tasks_off_a_task_prompt_is_answered_as_a_question():
    run, _ = answer(user(TEMPLATES["tags"]), ApiSettings(client_tasks=False))
    assert run.grounding.task is None
