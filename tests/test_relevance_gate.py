"""The relevance gate: passages must cover the question's content words; when reranked, the reranker's thresholds
act too."""

from __future__ import annotations

from ragstream.core.settings import ContextSettings
from ragstream.core.stages.gate import RelevanceGate, content_terms
from ragstream.core.stages.passage import Passage


def passage(text, i=0, rerank=None, title=""):
    return Passage(id=str(i), doc_id=f"d{i}", version=1, chunk_no=0, title=title, text=text, score=1.0 - i / 10,
                   scores={} if rerank is None else {"rerank": rerank})


def test_content_terms_are_stems_without_stop_words():
    assert content_terms("What is the boiling point of Ethanol?") == {"boil", "point", "ethanol"}
    assert content_terms("What is it?") == set()


def test_passages_must_hold_enough_of_the_questions_words_in_any_form():
    found = [passage("Ethanol boils at 78 degrees Celsius at sea level.", 0),
             passage("Water boils at 100 degrees.", 1),
             passage("Kafka keeps records in order within a partition.", 2)]
    gate = RelevanceGate(ContextSettings(min_coverage=0.6, coverage_gap=None))
    kept = gate.keep(question="What is the boiling point of ethanol?", passages=found)
    assert [p.id for p in kept] == ["0"] and kept[0].scores["coverage"] == 2 / 3  # "point" is missing
    assert [p.id for p in gate.keep(question="What is the boiling point of ethanol?", passages=found,
                                     min_coverage=0.3)] == ["0", "1"]
    assert gate.keep(question="Who won the 2018 world cup?", passages=found) == [], "nothing on topic: abstain"
    titled = passage("It became the default in 2019.", 3, title="Ethanol boiling point")
    assert gate.keep(question="boiling point of ethanol", passages=[titled]), "the title counts"
    assert gate.keep(question="What is it?", passages=found) == [p.rescored(p.score, coverage=1.0) for p in found]
    assert RelevanceGate(ContextSettings(min_coverage=None)).keep(question="world cup", passages=found)


def test_passages_far_below_the_best_coverage_are_dropped():
    found = [passage("Workers copy a record they cannot decode to the dead-letter topic.", 0),
             passage("A worker ignores any older version.", 1)]
    question = "Where does a worker put an event it cannot decode?"  # worker, put, event, cannot, decod
    gate = RelevanceGate(ContextSettings(min_coverage=0.1, coverage_gap=0.2))  # coverage 0.6 and 0.2
    assert [p.id for p in gate.keep(question=question, passages=found)] == ["0"]
    assert [p.id for p in gate.keep(question=question, passages=found, coverage_gap=0.5)] == ["0", "1"]


def test_reranked_passages_also_meet_the_rerankers_thresholds():
    def kept(found, max_gap, min_score):
        gate = RelevanceGate(ContextSettings(min_coverage=None, coverage_gap=None, max_score_gap=max_gap,
                                             min_score=min_score))
        return [p.id for p in gate.keep(question="q", passages=found)]

    found = [passage("t", i, s) for i, s in enumerate([0.9, 0.85, 0.79, 0.5])]
    assert kept(found, 0.08, None) == ["0", "1"]
    assert kept(found, None, 0.6) == ["0", "1", "2"]
    assert kept(found, 0.08, 0.95) == [] and kept([], 0.1, None) == []
    blended_first = [passage("t", 9, 0.7), *found]  # first after the blend, far below the best
    assert kept(blended_first, 0.08, None) == ["9", "0", "1"]
    not_reranked = [p.model_copy(update={"scores": {}}) for p in found]
    assert kept(not_reranked, 0.08, 0.95) == ["0", "1", "2", "3"], "without reranker scores they have no say"


def test_chat_reranks_exactly_when_configured_and_a_call_may_override_the_settings():
    assert RelevanceGate(ContextSettings(rerank=True)).needs_rerank
    assert not RelevanceGate(ContextSettings()).needs_rerank
    found = [passage("t", i, s) for i, s in enumerate([0.9, 0.8])]
    gate = RelevanceGate(ContextSettings(min_coverage=None, min_score=0.85))
    assert [p.id for p in gate.keep(question="q", passages=found)] == ["0"]
    assert [p.id for p in gate.keep(question="q", passages=found, min_score=0.5)] == ["0", "1"]
