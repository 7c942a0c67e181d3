"""The error body every auth response uses, and the route class behind it.

Errors look like ``{"detail": {"code": "...", "message": "..."}}``: the
shape FastAPI gives an :class:`~fastapi.HTTPException` whose detail is a
dict, so the dependencies work in the app's own routes without any
exception handler. Clients branch on ``code``; ``message`` is for people.
"""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...exceptions import AuthError, RateLimited

MAX_BODY_BYTES = 64 * 1024

type Handler = Callable[[Request], Coroutine[Any, Any, Response]]

STATUS_BY_CODE = {
    "invalid_credentials": status.HTTP_401_UNAUTHORIZED,
    "not_authenticated": status.HTTP_401_UNAUTHORIZED,
    "authentication_session_invalid": status.HTTP_401_UNAUTHORIZED,
    "weak_password": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "invalid_email": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "factor_not_available": status.HTTP_400_BAD_REQUEST,
    "identity_mismatch": status.HTTP_400_BAD_REQUEST,
    "authentication_incomplete": status.HTTP_400_BAD_REQUEST,
    "session_not_found": status.HTTP_404_NOT_FOUND,
    "invalid_code": status.HTTP_401_UNAUTHORIZED,
    "already_enrolled": status.HTTP_409_CONFLICT,
    "not_enrolled": status.HTTP_400_BAD_REQUEST,
    "reauth_required": status.HTTP_403_FORBIDDEN,
    "oauth_provider_unknown": status.HTTP_404_NOT_FOUND,
    "oauth_provider_unavailable": status.HTTP_502_BAD_GATEWAY,
    "oauth_account_exists": status.HTTP_409_CONFLICT,
    "oauth_already_linked": status.HTTP_409_CONFLICT,
    "oauth_not_linked": status.HTTP_404_NOT_FOUND,
    "oauth_last_sign_in_method": status.HTTP_409_CONFLICT,
    "account_disabled": status.HTTP_403_FORBIDDEN,
    "csrf_rejected": status.HTTP_403_FORBIDDEN,
    "invalid_reset_token": status.HTTP_400_BAD_REQUEST,
    "invalid_email_token": status.HTTP_400_BAD_REQUEST,
    "email_taken": status.HTTP_409_CONFLICT,
    "email_already_verified": status.HTTP_409_CONFLICT,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "email_delivery_failed": status.HTTP_503_SERVICE_UNAVAILABLE,
}

DESCRIPTIONS = {
    status.HTTP_400_BAD_REQUEST: "The request cannot be processed",
    status.HTTP_401_UNAUTHORIZED: "Not signed in, or wrong credentials",
    status.HTTP_403_FORBIDDEN: (
        "Refused: a more recent sign-in is required, or the request "
        "came from another site"
    ),
    status.HTTP_404_NOT_FOUND: "No such resource",
    status.HTTP_409_CONFLICT: "Already done",
    status.HTTP_413_CONTENT_TOO_LARGE: "The request body is too large",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "The request body is invalid",
    status.HTTP_502_BAD_GATEWAY: "An upstream provider failed",
    status.HTTP_429_TOO_MANY_REQUESTS: (
        "Too many attempts; retry after the Retry-After header's seconds"
    ),
    status.HTTP_503_SERVICE_UNAVAILABLE: "The email could not be sent",
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` and a human ``message``."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    detail: ErrorDetail


class FieldError(BaseModel):
    """One invalid part of a request; the value itself is never echoed."""

    loc: list[str | int]
    type: str
    message: str


class ValidationErrorDetail(ErrorDetail):
    """An invalid request, with where and why when fields are to blame."""

    errors: list[FieldError] = Field(default_factory=list)


class ValidationErrorResponse(BaseModel):
    """The body of a 422 response."""

    detail: ValidationErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for these error statuses."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in statuses:
        invalid = code == status.HTTP_422_UNPROCESSABLE_CONTENT
        entries[code] = {
            "model": ValidationErrorResponse if invalid else ErrorResponse,
            "description": DESCRIPTIONS.get(code, "Error"),
        }
    return entries


def http_error(status_code: int, code: str, message: str) -> HTTPException:
    """An :class:`~fastapi.HTTPException` with the standard error body."""
    return HTTPException(
        status_code=status_code,
        detail={"code": code, "message": message},
    )


def error_response(error: AuthError) -> JSONResponse:
    """The response for an error raised by the core.

    :class:`RateLimited` is 429 with ``Retry-After`` in seconds.
    """
    headers = (
        {"Retry-After": str(error.retry_after)}
        if isinstance(error, RateLimited)
        else None
    )
    return _json(
        STATUS_BY_CODE.get(error.code, status.HTTP_400_BAD_REQUEST),
        {"code": error.code, "message": error.detail},
        headers,
    )


class AuthRoute(APIRoute):
    """Route class of the auth router: one error shape, never cached.

    Core errors become their status and code, invalid requests a 422
    ``invalid_request`` listing the invalid fields (never their values).
    Every response is marked ``Cache-Control: no-store`` (no copy of it
    in any cache) and ``Referrer-Policy: no-referrer`` (a page built from
    it never leaks its URL, which may carry a reset token or an OAuth
    code, to the sites it links to).
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response = await _respond(handler, request)
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        return handle


async def _respond(handler: Handler, request: Request) -> Response:
    if _body_too_large(request):
        return _json(
            status.HTTP_413_CONTENT_TOO_LARGE,
            {
                "code": "request_too_large",
                "message": "The request body is too large.",
            },
        )
    try:
        return await handler(request)
    except AuthError as error:
        return error_response(error)
    except RequestValidationError as error:
        return _invalid_request(error)
    except StarletteHTTPException as error:
        return _http_error(error)


def _body_too_large(request: Request) -> bool:
    # Refused before it is read; bodies sent without a length are bounded
    # by the field limits of the request models instead.
    length = request.headers.get("content-length", "")
    if not (length.isascii() and length.isdigit()):
        return False
    return int(length) > MAX_BODY_BYTES


def _invalid_request(error: RequestValidationError) -> JSONResponse:
    fields = [
        {
            "loc": list(item["loc"]),
            "type": item["type"],
            "message": item["msg"],
        }
        for item in error.errors()
    ]
    return _json(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        {
            "code": "invalid_request",
            "message": "The request is invalid.",
            "errors": fields,
        },
    )


def _http_error(error: StarletteHTTPException) -> JSONResponse:
    detail: Any = error.detail
    if not isinstance(detail, dict):
        detail = {"code": "invalid_request", "message": str(detail)}
    return _json(error.status_code, detail, headers=error.headers)


def _json(
    status_code: int,
    detail: dict[str, Any],
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail},
        status_code=status_code,
        headers=headers,
    )
