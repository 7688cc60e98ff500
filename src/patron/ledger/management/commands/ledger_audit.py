"""`patron ledger-audit`: check every ledger invariant; exits 1 if any fails."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from patron.ledger import audit


class Command(BaseCommand):
    help = "Check the points ledger's invariants (journals balance, balances = postings = lots, liability)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        checks = audit.run()
        elapsed = time.monotonic() - started
        if options["json"]:
            out = [{"check": c.name, "ok": c.ok, "detail": c.detail, "rows": [str(r) for r in c.rows]} for c in checks]
            self.stdout.write(
                json.dumps({"ok": all(c.ok for c in checks), "seconds": round(elapsed, 2), "checks": out})
            )
        else:
            for check in checks:
                mark = "ok  " if check.ok else "FAIL"
                self.stdout.write(f"{mark} {check.name}" + (f"  ({check.detail})" if check.detail else ""))
                for row in check.rows:
                    self.stdout.write(f"       {row}")
            self.stdout.write(f"{len(checks)} checks in {elapsed:.2f} s")
        if not all(c.ok for c in checks):
            raise CommandError("ledger invariants do not hold")
