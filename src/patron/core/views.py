"""Views and view helpers every app's console pages share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

from patron.core.errors import DomainError
from patron.core.forms import show_domain_error


def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and monitors."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # reported, not raised: the monitor wants a body
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


def form_page(
    request: HttpRequest,
    form: forms.Form,
    save: Callable[[], str],
    template: str,
    *,
    show_error: Callable[[DomainError], None] | None = None,
    **context: Any,
) -> HttpResponse:
    """The console's one pattern for a form: a valid POST calls one service (in `save`, which says
    where to go next: a URL or a URL name) and redirects; a refusal goes back onto the form (by
    `show_error`, else on the fields it names). The page answers 422 while the form has errors."""
    if request.method == "POST" and form.is_valid():
        try:
            return redirect(save())
        except DomainError as exc:
            (show_error or (lambda e: show_domain_error(form, e)))(exc)
    return render(request, template, {"form": form, **context}, status=422 if form.errors else 200)


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def page_number(request: HttpRequest) -> int:
    """The list page asked for (`?page=`), 1 when absent or not a number."""
    try:
        return int(request.GET.get("page", "1"))
    except ValueError:
        return 1


def query_without_page(request: HttpRequest) -> str:
    """The list's filters as a query string, for the pager's links to add their page to."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def safe_next(request: HttpRequest, default: str) -> str:
    """Where a form asked to go back to (`next`), when it is on this site; else `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def fragment(template: str, context: dict[str, Any]) -> SafeString:
    """A template rendered to markup for a page section or an htmx swap."""
    return SafeString(render_to_string(template, context).strip())


def file_response(content_type: str, filename: str, content: bytes | Iterator[bytes]) -> HttpResponse:
    """A download: bytes as they are, an iterator streamed (a million-row export never sits in
    memory). The file name may be Chinese."""
    from django.http import StreamingHttpResponse
    from django.utils.http import content_disposition_header

    if isinstance(content, bytes):
        response = HttpResponse(content, content_type=content_type)
    else:
        # Views are typed to return HttpResponse; a streaming one is served the same way.
        response = StreamingHttpResponse(content, content_type=content_type)  # type: ignore[assignment]
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
