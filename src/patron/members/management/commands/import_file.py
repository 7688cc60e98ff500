"""`patron import-file`: import members or transactions from a CSV or Excel file on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from patron.core.context import Actor, acting_as
from patron.core.errors import DomainError
from patron.members import imports
from patron.members.models import ImportJob, ImportKind

BAR_WIDTH = 40
ERRORS_PRINTED = 200


class Command(BaseCommand):
    help = "Import members or transactions from a .csv or .xlsx file (dry run, resume, progress bar)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", nargs="?", help="the .csv or .xlsx file (not needed with --resume)")
        parser.add_argument("--kind", choices=list(ImportKind.values), help="what the file holds")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=HEADER",
            help="which column holds a field, e.g. --map phone=手机号 (repeatable)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="continue a job where it stopped")

    def handle(self, *args: Any, **options: Any) -> None:
        with acting_as(Actor(label="import-file")):
            try:
                job = self._job(options)
                self._describe(job)
                self._go(job, options["dry_run"], resume=bool(options["resume"]))
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self._report(job)

    def _job(self, options: dict[str, Any]) -> ImportJob:
        if options["resume"]:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"No import job {options['resume']}.")
            return job
        if not options["file"] or not options["kind"]:
            raise CommandError("Give --kind and FILE (or --resume JOB_ID).")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        job = imports.do_create_import_job(options["kind"], path.name, path.read_bytes(), None)
        if options["map"]:
            job = imports.do_set_mapping(job, {**job.mapping, **_parse_map(options["map"])})
        return job

    def _describe(self, job: ImportJob) -> None:
        self.stdout.write(f"Job {job.pk}: {job.kind} from {job.filename}, {job.total_rows} rows")
        for key, header in job.mapping.items():
            self.stdout.write(f"  {key:<22} <- {header}")
        if job.message:
            self.stdout.write(job.message)

    def _go(self, job: ImportJob, dry_run: bool, resume: bool) -> None:
        if dry_run:
            imports.do_validate_import(job, progress=self._bar)
        else:
            if not imports.claim_import(job, resume_running=resume):
                raise CommandError(f"Job {job.pk} is finished or running elsewhere.")
            try:
                imports.do_run_import(job, progress=self._bar)
            finally:
                self.stdout.write("")
        self.stdout.write("")

    def _bar(self, job: ImportJob, done: int) -> None:
        percent = imports.progress_percent(job, done)
        filled = BAR_WIDTH * percent // 100
        text = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {done}/{job.total_rows}"
        self.stdout.write(text, ending="")
        self.stdout.flush()

    def _report(self, job: ImportJob) -> None:
        job.refresh_from_db()
        errors = list(job.row_errors.all()[:ERRORS_PRINTED])
        if errors:
            self.stdout.write(f"{'line':>8}  {'column':<16} reason")
            for e in errors:
                self.stdout.write(f"{e.line:>8}  {e.column:<16} {e.reason}")
            if job.error_count > len(errors):
                self.stdout.write(f"... and {job.error_count - len(errors)} more (see the console, job {job.pk})")
        self.stdout.write(
            f"Job {job.pk} {job.status}: {job.created_count} created, {job.skipped_count} skipped, "
            f"{job.error_count} errors, {job.processed_rows}/{job.total_rows} rows processed."
        )
        if job.message:
            self.stdout.write(job.message)
        if job.error_count:
            raise CommandError(f"{job.error_count} rows have errors.")


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        key, sep, header = pair.partition("=")
        if not sep:
            raise CommandError(f"--map wants FIELD=HEADER, got {pair!r}")
        mapping[key.strip()] = header.strip()
    return mapping
