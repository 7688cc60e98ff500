"""Background jobs of the member registry."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django_tasks import task

from patron.core.context import Actor, acting_as
from patron.members import imports
from patron.members.models import ImportJob


@task()
def run_import(job_id: int, language: str = "") -> int:
    """Run (or resume) an import started from the console; returns the rows processed."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    user = job.created_by
    # The audit log and the timelines name the person who started the import, not "system".
    actor = Actor(user=user, label=f"{user.get_username()} (import)" if user else "import")
    with acting_as(actor), translation.override(language or settings.LANGUAGE_CODE):
        imports.do_run_import(job)
    return job.processed_rows
