"""Every failure leaves as OpenAI's error JSON with an honest status: 4xx for what the caller sent, 503 with
Retry-After when something downstream is overloaded or down, 500 only for our own bugs."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError
from pymilvus.exceptions import MilvusException
from ray.serve.exceptions import BackPressureError
from starlette.exceptions import HTTPException

from ragstream.core.auth import Unauthorized
from ragstream.core.models.client import ModelError, ModelUnavailable
from ragstream.schemas.openai import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          408: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
          415: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 503: "server_error", 504: "timeout_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers

    def body(self) -> ErrorResponse:
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return ErrorResponse(error=ErrorBody(message=self.message, type=kind, param=self.param, code=self.code))

    def response(self) -> JSONResponse:
        return JSONResponse(self.body().model_dump(), status_code=self.status, headers=self.headers)


def unavailable(message: str, retry_after_s: int) -> ApiError:
    return ApiError(503, message, "overloaded", headers={"Retry-After": str(retry_after_s)})


def from_exception(error: Exception, retry_after_s: int) -> ApiError:
    """Maps what a stage raised (Ray re-raises it wrapped, still an instance of the original class)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, BackPressureError):
        return unavailable("the query path is at capacity; retry shortly", retry_after_s)
    if isinstance(error, ModelUnavailable):
        return unavailable(f"a model is unavailable: {_first_line(error)}", retry_after_s)
    if isinstance(error, ModelError):
        return ApiError(400, f"the model rejected the request: {_first_line(error)}", "model_error")
    if isinstance(error, KafkaError):
        return unavailable(f"the event log is unavailable: {_first_line(error)}", retry_after_s)
    if isinstance(error, MilvusException):  # client input that Milvus could refuse is validated before it
        return unavailable(f"the index is unavailable: {_first_line(error)}", retry_after_s)
    log.exception("unexpected error", exc_info=error)
    return ApiError(500, "internal error; the request was not processed", "internal_error")


def _first_line(error: Exception) -> str:
    """Ray's wrapped errors carry a traceback after the message; the caller gets only the message."""
    text = str(getattr(error, "cause", None) or error)
    return text.strip().splitlines()[-1] if text.strip() else type(error).__name__


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    location = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    if first.get("type") == "json_invalid":
        return "the body is not valid JSON", None
    if first.get("type") == "model_attributes_type" and not location:
        return "the body must be a JSON object sent as Content-Type: application/json", None
    return (f"{location}: {first.get('msg')}" if location else str(first.get("msg"))), location or None


def install(app: FastAPI, retry_after_s: int) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return ApiError(400, message, "invalid_body", param).response()

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        return ApiError(error.status_code, str(error.detail), headers=error.headers).response()

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, error: Unauthorized) -> JSONResponse:
        return ApiError(401, str(error), "invalid_api_key", headers={"WWW-Authenticate": "Bearer"}).response()

    @app.exception_handler(Exception)
    async def _any(_: Request, error: Exception) -> JSONResponse:
        return from_exception(error, retry_after_s).response()
