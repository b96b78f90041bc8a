"""Conversation → search queries, without a model (the generator rewrite and HyDE are opt-in)."""

from __future__ import annotations

import asyncio

from ragstream.core.settings import ModelSettings, RewriteSettings
from ragstream.core.stages.rewrite import RewriteStage
from ragstream.schemas.generation import ChatMessage

TURNS = [ChatMessage(role="user", content="Which router model do we use?"),
         ChatMessage(role="assistant", content="The XR-7734."),
         ChatMessage(role="user", content="How do I reset it?")]


def rewrite(messages, enabled=None, **settings):
    stage = RewriteStage(RewriteSettings(**settings), ModelSettings())
    return asyncio.run(stage.rewrite(messages=messages, enabled=enabled)).value


def has_work(messages, settings, enabled):
    return RewriteStage(settings, ModelSettings()).needed(messages=messages, enabled=enabled)


def test_a_follow_up_is_searched_as_asked_and_with_its_conversation():
    result = rewrite(TURNS)
    assert result.queries == ["How do I reset it?", "Which router model do we use? How do I reset it?"]
    assert result.standalone == result.queries[1]


def test_a_lone_question_or_rewriting_off_leaves_the_question_alone():
    assert not has_work(TURNS[-1:], RewriteSettings(), None)
    assert not has_work(TURNS, RewriteSettings(), False) and has_work(TURNS, RewriteSettings(), None)
    assert has_work(TURNS[-1:], RewriteSettings(hyde=True), None)
    assert rewrite(TURNS, enabled=False).queries == ["How do I reset it?"]
    assert rewrite(TURNS, history_turns=0).queries == ["How do I reset it?"]
