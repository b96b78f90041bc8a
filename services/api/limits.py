"""Request body limits, enforced before a body is parsed: its size (by Content-Length when sent, else while
streaming in) and the time a client may take to send it, so slow senders cannot hold a replica's request slots."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragstream.services.api.errors import ApiError


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"request body over {max_bytes} bytes", "body_too_large")


class BodyLimit:
    """``limits`` gives (max bytes, seconds to receive the body) per request from the scope, so the limits can come
    from the app's own settings. The body (at most max bytes) is read here, then replayed to the app: an error
    raised while the app itself reads would surface as its generic parse error. After the body, ``receive`` passes
    through: a streamed answer listens on it for the client's disconnect."""

    def __init__(self, app: ASGIApp, limits: Callable[[Scope], tuple[int, float]]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, timeout_s = self.limits(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit).response()(scope, receive, send)
        body, deadline = bytearray(), time.monotonic() + timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                error = ApiError(408, f"request body not received within {timeout_s:g} s", "body_timeout")
                return await error.response()(scope, receive, send)
            if message["type"] == "http.disconnect":
                return None  # the client is gone: nobody to answer
            body += message.get("body", b"")
            if len(body) > limit:
                return await _too_large(limit).response()(scope, receive, send)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
