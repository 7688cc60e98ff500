from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from patron.core.context import Actor, acting_as, new_request_id


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def actor_for_request(request: HttpRequest) -> Actor:
    """The API sets `request.patron_actor` (an API key); the console has a signed-in user."""
    explicit = getattr(request, "patron_actor", None)
    if explicit is not None:
        return explicit
    rid = getattr(request, "request_id", "")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(user=user, label=user.get_username(), request_id=rid, ip=client_ip(request))
    return Actor(user=None, label="anonymous", request_id=rid, ip=client_ip(request))


class RequestIdMiddleware:
    """Gives each request an id (or keeps the caller's X-Request-ID) and makes its actor current."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request.headers.get("X-Request-ID", "")[:64] or new_request_id()
        request.request_id = rid  # type: ignore[attr-defined]
        with acting_as(lambda: actor_for_request(request)):
            response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response
