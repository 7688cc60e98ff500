"""Console pages for importing members and transactions, and exporting members."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.core.errors import DomainError
from patron.core.events import on_commit
from patron.core.permissions import Perm, require_perm
from patron.core.views import file_response
from patron.members import exports, imports, tasks
from patron.members.models import ImportJob, ImportKind, ImportStatus
from patron.members.queries import MemberFilter

ERRORS_SHOWN = 500


@require_perm(Perm.MEMBERS_IMPORT)
def import_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _upload(request)
    return _render_list(request)


def _render_list(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    jobs = ImportJob.objects.select_related("created_by").order_by("-pk")[:50]
    context = {"jobs": jobs, "kinds": ImportKind.choices, "error": error}
    return render(request, "members/import_list.html", context, status=status)


def _upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        return _render_list(request, _("Choose a file."), status=422)
    try:
        job = imports.do_create_import_job(request.POST.get("kind", ""), upload.name or "", upload.read(), request.user)
    except DomainError as exc:
        return _render_list(request, exc.message, status=422)
    return redirect("members:import_detail", pk=job.pk)


@require_perm(Perm.MEMBERS_IMPORT)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    headers = imports.job_headers(job)
    fields = [(spec, job.mapping.get(spec.key, "")) for spec in imports.fields_for(job.kind)]
    context = {
        "job": job,
        "headers": headers,
        "fields": fields,
        "missing": imports.missing_fields(job),
        "row_errors": job.row_errors.all()[:ERRORS_SHOWN],
        "errors_shown": ERRORS_SHOWN,
        "percent": imports.progress_percent(job),
        "can_change": job.status != ImportStatus.RUNNING and not job.processed_rows,
        "can_run": job.status in {ImportStatus.UPLOADED, ImportStatus.VALIDATED, ImportStatus.FAILED},
    }
    return render(request, "members/import_detail.html", context)


@require_perm(Perm.MEMBERS_IMPORT)
@require_POST
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    mapping = {spec.key: request.POST.get(f"map_{spec.key}", "") for spec in imports.fields_for(job.kind)}
    try:
        imports.do_set_mapping(job, mapping)
        messages.success(request, _("Mapping saved."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("members:import_detail", pk=pk)


@require_perm(Perm.MEMBERS_IMPORT)
@require_POST
def import_check(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        job = imports.do_validate_import(job)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("members:import_detail", pk=pk)
    if job.error_count:
        messages.error(request, _("%(n)s rows have errors; see the list below.") % {"n": job.error_count})
    else:
        messages.success(request, _("Every row is fine."))
    return redirect("members:import_detail", pk=pk)


@require_perm(Perm.MEMBERS_IMPORT)
@require_POST
def import_run(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        claimed = imports.claim_import(job)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("members:import_detail", pk=pk)
    if not claimed:
        messages.error(request, _("This import is already running or finished."))
        return redirect("members:import_detail", pk=pk)
    language = get_language() or ""

    def enqueue() -> None:
        tasks.run_import.enqueue(job.pk, language)

    on_commit(enqueue)  # once the claim is committed, so the worker sees the job as running
    return redirect("members:import_detail", pk=pk)


@require_perm(Perm.MEMBERS_IMPORT)
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    response = render(request, "members/import_progress.html", {"job": job, "percent": imports.progress_percent(job)})
    if job.status != ImportStatus.RUNNING and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # finished: reload the page once to show counts and errors
    return response


def member_filter_from(params: dict[str, str]) -> MemberFilter:
    return MemberFilter(
        q=params.get("q", ""),
        tag=params.get("tag", ""),
        status=params.get("status", ""),
        store=params.get("store", ""),
        join_channel=params.get("join_channel", ""),
        joined_from=_date(params.get("joined_from", "")),
        joined_to=_date(params.get("joined_to", "")),
    )


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


@require_perm(Perm.MEMBERS_EXPORT)
def export_members(request: HttpRequest) -> HttpResponse:
    flt = member_filter_from(request.GET.dict())
    return file_response(*exports.do_export_members(flt, request.GET.get("format", "csv"), request.user))


urlpatterns: list[URLPattern] = [
    path("imports/", import_list, name="import_list"),
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", import_mapping, name="import_mapping"),
    path("imports/<int:pk>/check/", import_check, name="import_check"),
    path("imports/<int:pk>/run/", import_run, name="import_run"),
    path("imports/<int:pk>/progress/", import_progress, name="import_progress"),
    path("members/export/", export_members, name="export"),
]
