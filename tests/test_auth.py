"""API keys map to tenants; nothing else does."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragstream.core.auth import Unauthorized, tenant_for
from ragstream.core.settings import ApiSettings, Settings

API = ApiSettings(api_keys={"sk-acme-1": "acme", "sk-globex": "globex"})


def test_a_bearer_key_names_its_tenant():
    assert tenant_for(API, "Bearer sk-acme-1") == "acme"
    assert tenant_for(API, "bearer  sk-globex ") == "globex"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic sk-acme-1", "sk-acme-1",
                                    "Bearer sk-acme", "Bearer sk-acme-12", "Bearer acme"])
def test_missing_or_invalid_keys_are_unauthorized(header):
    with pytest.raises(Unauthorized):
        tenant_for(API, header)


def test_keys_come_from_the_environment_and_stay_out_of_reprs(monkeypatch):
    monkeypatch.setenv("RAGSTREAM_API__API_KEYS", '{"sk-secret": "acme"}')
    settings = Settings()
    assert tenant_for(settings.api, "Bearer sk-secret") == "acme"
    assert "sk-secret" not in repr(settings)
    monkeypatch.setenv("RAGSTREAM_API__API_KEYS", '{"k": "Not A Tenant"}')
    with pytest.raises(ValidationError):
        Settings()
