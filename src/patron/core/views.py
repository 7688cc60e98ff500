"""Views and view helpers every app's console pages share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

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
