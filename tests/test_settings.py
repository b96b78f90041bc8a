"""Settings that explain themselves: a typo in a variable's group or key is refused with the nearest valid name,
never silently ignored, and what is valid still reads as before."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragstream.core.settings import OTHER_VARIABLES, RetrievalSettings, Settings
from ragstream.core.settings_env import env_fields


@pytest.mark.parametrize(("name", "says"), [
    ("RAGSTREAM_RETRIEVAL__TOPK", "unknown setting 'topk'; did you mean top_k?"),
    ("RAGSTREAM_RETRIVAL__TOP_K", "RAGSTREAM_RETRIVAL__TOP_K; did you mean RAGSTREAM_RETRIEVAL__TOP_K?"),
    ("RAGSTREAM_MODELS__TRITON__TIMEOUT", "unknown setting 'timeout'; did you mean timeout_s?"),
    ("RAGSTREAM_NOTHING_LIKE_IT", "unknown variable RAGSTREAM_NOTHING_LIKE_IT"),
])
def test_a_typo_fails_at_start_with_the_nearest_name(monkeypatch, name, says):
    monkeypatch.setenv(name, "5")
    with pytest.raises(ValidationError, match=says.replace("?", r"\?")):
        Settings()


def test_every_documented_variable_and_the_few_read_elsewhere_are_accepted(monkeypatch):
    monkeypatch.setenv("RAGSTREAM_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("RAGSTREAM_LOCAL__DURABLE_BROKER", "true")
    for name in OTHER_VARIABLES:
        monkeypatch.setenv(name, "x")
    settings = Settings()
    assert settings.retrieval.top_k == 7 and settings.local.durable_broker
    assert {f.name for f in env_fields(local=True)} >= {"RAGSTREAM_RETRIEVAL__TOP_K", "RAGSTREAM_LOCAL__DATA_DIR"}


def test_an_unknown_key_in_code_or_json_is_refused_too():
    with pytest.raises(ValidationError, match="did you mean rerank_depth"):
        RetrievalSettings(rerank_dept=5)
    with pytest.raises(ValidationError, match="did you mean budget_tokens"):
        Settings(context={"budget_token": 100})
