"""API errors: always `{"error": {"code", "message", "fields"?}}`, never an HTML page."""

from typing import Any

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from web.site import error_page


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(headers or {})
    return response


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.fields, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if not request.path.startswith("/api/") and error.code != 413:
            return error_page(error)
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            message = "the request body is larger than 64 KiB"
        # What the exception itself says in headers (405's Allow), minus its HTML content type.
        headers = {
            name: value for name, value in error.get_headers() if name.lower() != "content-type"
        }
        return error_response(status, _HTTP_CODES.get(status, "http_error"), message,
                              headers=headers)
