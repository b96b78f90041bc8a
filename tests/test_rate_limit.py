"""A tenant over its request rate gets OpenAI's 429 with Retry-After, alone: its burst passes, the bucket refills at
its rate, other tenants and tenants without a rate are not touched. On a fake clock, then once over the real stack
with the official client, which waits the 429 out."""

from __future__ import annotations

import time

import httpx
import pytest

from ragstream.core.settings import ApiSettings, TenantRate
from ragstream.services.api.errors import ApiError
from ragstream.services.api.rate_limit import TenantRateLimit
from testkit.api import ACME, LIMITED, client


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused(limit: TenantRateLimit, tenant: str) -> ApiError | None:
    try:
        limit.take(tenant)
    except ApiError as error:
        return error
    return None


def test_a_burst_passes_then_429_with_retry_after_until_the_bucket_refills():
    clock = Clock()
    limit = TenantRateLimit([TenantRate(tenant="acme", requests_per_s=0.5, burst=3)], clock=clock)
    assert [refused(limit, "acme") for _ in range(3)] == [None] * 3
    error = refused(limit, "acme")
    assert (error.status, error.code) == (429, "rate_limit_exceeded")
    assert error.headers == {"Retry-After": "2", "retry-after-ms": "2000"}
    assert error.body().error.type == "rate_limit_error" and "0.5 requests/s" in error.message
    clock.now += 1.0
    assert refused(limit, "acme").headers == {"Retry-After": "1", "retry-after-ms": "1000"}  # half a token back
    clock.now += 1.0
    assert refused(limit, "acme") is None and refused(limit, "acme") is not None
    clock.now += 1_000
    assert [refused(limit, "acme") for _ in range(4)][:3] == [None] * 3, "refills up to the burst, not beyond"


@pytest.mark.parametrize(("rates", "limited", "free"), [
    ({"acme": 1.0}, "acme", "globex"),          # a tenant without a rate is not limited
    ({"acme": 1000.0, "*": 1.0}, "globex", "acme"),  # "*" is every tenant without its own rate
])
def test_one_tenant_over_its_rate_leaves_the_others_alone(rates, limited, free):
    limit = TenantRateLimit([TenantRate(tenant=t, requests_per_s=r, burst=1) for t, r in rates.items()],
                            clock=Clock())
    assert refused(limit, limited) is None and refused(limit, limited) is not None
    assert all(refused(limit, free) is None for _ in range(50 if free == "globex" else 1))


def test_a_tenant_named_twice_is_refused_at_start():
    with pytest.raises(ValueError, match="more than one rate for acme"):
        ApiSettings(tenant_rates=[{"tenant": "acme", "requests_per_s": 1}, {"tenant": "acme", "requests_per_s": 2}])


@pytest.mark.stack
def test_a_tenant_over_its_rate_gets_429_with_retry_after_alone_and_the_sdk_waits_it_out(query_stack):
    _, url = query_stack
    [rate] = query_stack[0].api.tenant_rates
    burst = rate.burst
    with httpx.Client(base_url=url, timeout=30) as http:
        answers = [http.get("/v1/models", headers={"Authorization": f"Bearer {LIMITED}"}) for _ in range(burst + 5)]
        statuses = [a.status_code for a in answers]
        assert statuses[:burst] == [200] * burst and 429 in statuses[burst:], statuses
        refused = next(a for a in answers if a.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert http.get("/v1/models", headers={"Authorization": f"Bearer {ACME}"}).status_code == 200

    started = time.monotonic()
    models = client(url, LIMITED).with_options(max_retries=3).models.list()  # honours Retry-After, then succeeds
    assert [m.id for m in models.data] == ["ragstream"]
    assert time.monotonic() - started < 10
