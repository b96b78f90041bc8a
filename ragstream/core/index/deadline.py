"""A Milvus client whose every call has a deadline.

pymilvus waits forever by default. A call that never returns (a server that accepted the connection and then hung,
a channel wedged across a restart) would hold a worker's batch, and with it its partitions, for good: the consumer's
heartbeat thread keeps the membership, so the group never moves them. With a deadline the call fails as an outage
and the batch is rewound and retried.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from pymilvus import MilvusClient


class DeadlineClient:
    def __init__(self, client: MilvusClient, timeout_s: float) -> None:
        self._client = client
        self._timeout_s = timeout_s

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or "timeout" not in inspect.signature(attribute).parameters:
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            kwargs.setdefault("timeout", self._timeout_s)
            return attribute(*args, **kwargs)

        return call
