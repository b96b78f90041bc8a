"""Request size limit, enforced before a body is parsed: by Content-Length when sent, else while streaming in."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import ApiError


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"request body over {max_bytes} bytes", "body_too_large")


class BodyLimit:
    """``max_bytes`` is read per request from the scope, so the limit can come from the app's own settings."""

    def __init__(self, app: ASGIApp, max_bytes: Callable[[Scope], int]) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_bytes(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(limit).response()(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
            return message

        await self.app(scope, counted, send)
