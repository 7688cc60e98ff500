import time

from django.core.management.base import BaseCommand

from patron.core import scheduler


class Command(BaseCommand):
    help = "Enqueue periodic jobs, each exactly once per period (safe to run on several machines)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check once and exit")
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks")

    def handle(self, *args, once: bool = False, interval: float = 30.0, **options):
        while True:
            for name, period in scheduler.run_due_jobs():
                self.stdout.write(f"enqueued {name} for {period}")
            if once:
                return
            time.sleep(interval)
