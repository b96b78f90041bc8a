"""A request rate per tenant: a token bucket per tenant in each ingress replica. Beyond it the tenant gets OpenAI's
429 (``rate_limit_exceeded``) with ``Retry-After``, which the OpenAI SDKs wait out before retrying, so one tenant's
burst is refused alone instead of filling the shared Serve queues until every tenant gets 503s. Tenants come only
from the configured API keys, so the buckets are bounded. ``RAGSTREAM_API__TENANT_RATES`` gives the rates
(``"*"``: every tenant without its own); a tenant with none is not limited. With several ingress replicas a
tenant's rate is up to that many times its setting."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ragstream.core.settings import TenantRate
from ragstream.services.api.errors import ApiError


@dataclass
class _Bucket:
    tokens: float
    at: float


class TenantRateLimit:
    def __init__(self, rates: list[TenantRate], clock: Callable[[], float] = time.monotonic) -> None:
        self.rates, self.clock = {rate.tenant: rate for rate in rates}, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # FastAPI runs sync dependencies on a thread pool

    def take(self, tenant: str) -> None:
        """One request of ``tenant``, or a 429 that says when the next one is allowed."""
        rate = self.rates.get(tenant, self.rates.get("*"))
        if rate is None:
            return
        per_s, burst = rate.requests_per_s, rate.burst
        with self._lock:
            now = self.clock()
            bucket = self._buckets.setdefault(tenant, _Bucket(float(burst), now))
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * per_s)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = (1 - bucket.tokens) / per_s
        # Retry-After counts whole seconds; the OpenAI SDKs prefer retry-after-ms, exact for fast rates
        raise ApiError(429, f"tenant {tenant!r} is over its rate of {per_s:g} requests/s "
                       f"(burst {burst}); retry in {wait:.2f} s", "rate_limit_exceeded",
                       headers={"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000))})
