"""Error shapes shared by every API router: clear 4xx, never a 500 for bad input."""

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser


class StrictJsonParser(Parser):
    """Decodes UTF-8 strictly so invalid byte sequences are refused, not replaced."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        text = request.body.decode("utf-8", errors="strict")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise TypeError("the request body must be a JSON object")
        return data


def _describe_parse_failure(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"request body is not valid UTF-8 (byte {cause.start})"
    if isinstance(cause, json.JSONDecodeError):
        return f"request body is not valid JSON (line {cause.lineno}, column {cause.colno})"
    if isinstance(cause, TypeError):
        return str(cause)
    return "request body cannot be parsed"


def _field_name(loc: tuple[object, ...] | list[object]) -> str:
    # ninja reports ("body", <param name>, field...) or ("query", field); clients know only the field.
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:] or parts[1:]
    elif parts:
        parts = parts[1:]
    return ".".join(str(part) for part in parts)


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        # Name the field and the rule; never echo the (possibly huge) input back.
        errors = [{"field": _field_name(err.get("loc", ())), "error": err.get("msg", "invalid")} for err in exc.errors]
        return api.create_response(request, {"detail": "invalid request", "errors": errors}, status=422)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        detail = str(exc.message)
        if exc.status_code == 400 and detail.startswith("Cannot parse request body"):
            detail = _describe_parse_failure(exc.__cause__)
        return api.create_response(request, {"detail": detail}, status=exc.status_code)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return api.create_response(request, {"detail": "request body is too large"}, status=413)
