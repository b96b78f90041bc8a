"""API keys → tenants. The tenant of a request comes only from its key; nothing in a body can name one."""

from __future__ import annotations

import hmac

from ragstream.core.settings import ApiSettings


class Unauthorized(Exception):
    pass


def tenant_for(settings: ApiSettings, authorization: str | None) -> str:
    """``Authorization: Bearer <key>``; every key is compared in constant time so timing reveals nothing."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    found = None
    for known, tenant in settings.api_keys.items():
        if hmac.compare_digest(known.encode(), key.strip().encode()):
            found = tenant
    if found is None:
        raise Unauthorized("invalid API key")
    return found
