"""One error shape for every failure under /api/v1: `{"code", "message", "field", "detail"}`.

Two layers produce it. `install_error_handlers` maps what ninja's operations raise — validation
errors, ContractError, ServiceError and its subclasses, authentication, throttling, oversized bodies
and anything unexpected — to that body. `ApiErrorMiddleware` catches what never reaches an operation
(an unknown path, a method a path does not allow, a crash outside ninja) and rewrites Django's HTML
error pages for API paths into the same JSON, keeping the status and headers such as `Allow`.

Unexpected exceptions answer 500 `internal_error` without a stack trace; the log line carries the
request's trace id, which the body quotes so a user's report can be matched to it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from budgets.api_auth import InvalidToken
from budgets.errors import ServiceError
from jobs.contract import ContractError
from jobs.services.identity import trace_id_from
from jobs.validation_text import joined, sentence

logger = logging.getLogger("hybridportal.api")

API_PREFIX = "/api/"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_PARAM_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}

STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
}


def error_body(code: str, message: str, field: str | None = None, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, "detail": detail}


def trace_id_for(request: HttpRequest) -> str:
    """The W3C trace id of the caller's `traceparent`, or a fresh one (the same rule as job submission)."""
    return trace_id_from(request.headers.get("traceparent"))


def validation_field(loc: tuple[Any, ...] | list[Any], body_params: set[str] | frozenset[str] = frozenset()) -> str:
    """ninja's `("body", "payload", "params", "n_qubits")` → `"params.n_qubits"`, a list index in
    brackets (`("body", "payload", "jobs", 3, "shots")` → `"jobs[3].shots"`, as the services name a
    batch's items); a header keeps its name."""
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in _PARAM_SOURCES else None
    if source == "body" and parts and parts[0] in body_params:
        parts.pop(0)
    field = ""
    for part in parts:
        field += f"[{part}]" if isinstance(part, int) else f".{part}" if field else str(part)
    return field or (source or "body")


def _message(field: str, err: dict[str, Any]) -> str:
    # The wording of jobs.validation_text, as for the services and the web form.
    return sentence(field, str(err.get("type", "")), err.get("ctx"))


def _respond(api: NinjaAPI, request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


def install_error_handlers(api: NinjaAPI, *, body_params: frozenset[str] = frozenset({"payload"})) -> None:
    """Register the handlers on `api`; `body_params` are the body argument names to drop from fields."""

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for e in exc.errors:
            field = validation_field(e.get("loc", ()), body_params)
            errors.append({"field": field, "message": _message(field, e), "type": e.get("type")})
        for err in errors:  # a missing or malformed Idempotency-Key is a 400, whatever else is wrong
            if err["field"].lower() == IDEMPOTENCY_HEADER.lower():
                missing = err["type"] == "missing"
                return _respond(
                    api,
                    request,
                    400,
                    error_body(
                        "idempotency_key_required" if missing else "idempotency_key_invalid",
                        f"{request.method} {request.path.removeprefix('/api/v1')} needs an Idempotency-Key header "
                        "(1–255 printable ASCII; a UUID4 is ideal)",
                        IDEMPOTENCY_HEADER,
                    ),
                )
        field = errors[0]["field"] if errors else "body"
        return _respond(api, request, 422, error_body("invalid", joined(errors), field, errors))

    def on_contract(request: HttpRequest, exc: ContractError) -> HttpResponse:
        return _respond(api, request, 422, error_body(exc.code, exc.message, exc.field, exc.errors or None))

    def on_service(request: HttpRequest, exc: ServiceError) -> HttpResponse:
        return _respond(api, request, exc.status, exc.as_dict())

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        status = exc.status_code
        if isinstance(exc, InvalidToken):
            body = error_body("invalid_token", exc.message)
        elif isinstance(exc, AuthenticationError):
            body = error_body(
                "unauthenticated", "authentication required: send `Authorization: Bearer <token>` or sign in"
            )
        elif isinstance(exc, Throttled):
            wait = math.ceil(exc.wait) if exc.wait is not None else None  # as ninja's Retry-After
            body = error_body("rate_limited", "too many requests; slow down", detail={"retry_after": wait})
        elif status == 400 and "parse" in exc.message.lower():
            body = error_body("malformed_json", "the request body is not valid JSON", "body")
        else:
            body = error_body(STATUS_CODES.get(status, "error"), exc.message)
        response = _respond(api, request, status, body)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _respond(api, request, 404, error_body("not_found", "not found"))

    def on_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _respond(api, request, 403, error_body("forbidden", str(exc) or "not allowed"))

    def on_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
        return _respond(api, request, 413, _too_big_body())

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        trace_id = trace_id_for(request)
        logger.exception("unhandled API error on %s %s", request.method, request.path, extra={"trace_id": trace_id})
        return _respond(api, request, 500, _internal_body(trace_id))

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (ValidationError, on_validation),
        (ContractError, on_contract),
        (ServiceError, on_service),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (PermissionDenied, on_permission_denied),
        (RequestDataTooBig, on_too_big),
        (Exception, on_unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


def _too_big_body() -> dict[str, Any]:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body(
        "payload_too_large", f"the request body is larger than {limit} bytes", "body", {"limit_bytes": limit}
    )


def _internal_body(trace_id: str) -> dict[str, Any]:
    return error_body(
        "internal_error",
        f"internal error; it has been logged under trace id {trace_id}",
        detail={"trace_id": trace_id},
    )


class ApiErrorMiddleware:
    """The API's edge, for everything under /api/.

    Before the view: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413, and text with a NUL character
    (in the query string or anywhere in a JSON body) is 422 naming the field — PostgreSQL cannot store
    NUL in text or jsonb, so such input would otherwise fail deep inside a query as a 500.

    After the view: non-JSON error responses (Django's 404 page for an unknown route, ninja's
    plain-text 405, a 500 page from a crash outside an operation) are rewritten into the API's error
    shape, keeping the status and headers such as `Allow`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        try:
            field = _nul_field(request)
        except RequestDataTooBig:
            return JsonResponse(_too_big_body(), status=413)
        if field is not None:
            return JsonResponse(error_body("invalid", "text must not contain NUL characters", field), status=422)
        return self._as_json(request, self.get_response(request))

    def _as_json(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        if status >= 500:
            trace_id = trace_id_for(request)
            logger.error("API %s %s answered %s", request.method, request.path, status, extra={"trace_id": trace_id})
            body = _internal_body(trace_id)
        elif status == 404:
            body = error_body("not_found", f"no API route {request.method} {request.path}")
        elif status == 405:
            allowed = response.get("Allow", "")
            body = error_body("method_not_allowed", f"{request.method} is not allowed here; use {allowed}")
        else:
            body = error_body(STATUS_CODES.get(status, "error"), response.reason_phrase)
        rewritten = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                rewritten[header] = response[header]
        return rewritten


def _nul_field(request: HttpRequest) -> str | None:
    """The first input (query parameter or dotted JSON path) whose text contains NUL, if any.
    Reading the body here raises RequestDataTooBig for an oversized one."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return key.replace("\x00", "") or "query"
    if request.method in {"POST", "PUT", "PATCH"} and request.content_type == "application/json":
        body = request.body
        if b"\\u0000" in body:
            try:
                return _nul_path(json.loads(body), ())
            except ValueError:
                return None  # not JSON at all: the operation answers 400 malformed_json
    return None


def _nul_path(value: Any, path: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return (".".join(path) or "body") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = (*path, str(key).replace("\x00", ""))
        if "\x00" in str(key):
            return ".".join(here) or "body"
        found = _nul_path(item, here)
        if found:
            return found
    return None
