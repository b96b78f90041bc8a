"""The demo answers its own questions: the bundled corpus ingested as `ragstream up --demo` does, every answerable
question of its list (which holds the one `ragstream up` prints and the README's) answered by the shipped
generator with the expected fact, citing the expected document; the others, and a question whose document was
deleted through Kafka, abstain."""

from __future__ import annotations

import httpx
import pytest

from ragstream.cli.main import produce_files
from ragstream.core import demo
from ragstream.core.generation.prompt import NO_ANSWER
from testkit.api import DEMO, produce_one, stream_answer

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def demo_stack(query_stack):
    settings, url = query_stack
    written = produce_files(settings, demo.FOLDER, "demo")
    response = httpx.post(f"{url}/v1/retrieve", headers={"Authorization": f"Bearer {DEMO}"}, timeout=60,
                          json={"query": "warm up", "min_versions": written})
    assert response.status_code == 200, response.text
    return settings, url, {w["doc_id"]: w["version"] for w in written}


def test_the_list_holds_the_questions_the_stack_and_the_readme_suggest():
    asked = {q.question for q in demo.questions() if q.answerable}
    assert {"What is ragstream?", "How does ragstream handle a bad event?"} <= asked
    assert all(q.doc_ids and q.expect_any for q in demo.questions() if q.answerable)
    assert {d for q in demo.questions() for d in q.doc_ids} <= {p.stem for p in demo.FOLDER.glob("*.md")}


def test_every_demo_question_is_answered_from_its_document_or_abstains(demo_stack):
    _, url, _ = demo_stack
    wrong = []
    for q in demo.questions():
        text, citations = stream_answer(url, q.question, key=DEMO, min_pieces=1)
        answer = text.split("Sources:")[0].lower()
        cited = {c["doc_id"] for c in citations}
        if q.answerable and not (any(e.lower() in answer for e in q.expect_any) and cited & set(q.doc_ids)):
            wrong.append((q.question, text, sorted(cited)))
        if not q.answerable and (NO_ANSWER not in text or cited):
            wrong.append((q.question, text, sorted(cited)))
    assert not wrong, "\n".join(map(str, wrong))


def test_a_question_whose_document_was_deleted_abstains(demo_stack):
    settings, url, versions = demo_stack
    gone = produce_one(settings, "demo", "freshness", versions["freshness"] + 1, None)
    text, citations = stream_answer(url, "What is freshness?", key=DEMO, min_pieces=1, min_versions=[gone])
    assert NO_ANSWER in text and not citations, text
