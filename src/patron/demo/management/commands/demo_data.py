"""`patron demo-data --members N --months M --seed S [--if-empty]`: fill an empty registry with demo data."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.core import clock
from patron.demo.generator import DemoConfig, DemoStats, generate
from patron.demo.ledger_rows import LedgerTotals
from patron.members.models import Member


class Command(BaseCommand):
    help = "Generate a deterministic demo programme: stores, staff accounts, members and their purchases."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--members", type=int, default=20_000)
        parser.add_argument("--months", type=int, default=24)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--batch", type=int, default=2000, help="members written per transaction")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when members already exist")
        parser.add_argument("--no-points", action="store_true", help="leave the points ledger empty")

    def handle(self, *args: Any, **options: Any) -> None:
        if Member.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Members already exist; demo data left as it is.")
                return
            raise CommandError("The database already has members; demo data goes into an empty registry.")
        if options["members"] < 1 or options["months"] < 1:
            raise CommandError("--members and --months must be at least 1.")
        # History ends at the start of today (local): the same seed gives the same rows all day long.
        until = dt.datetime.combine(clock.local_today(), dt.time.min, tzinfo=clock.member_zone())
        config = DemoConfig(
            members=options["members"],
            months=options["months"],
            seed=options["seed"],
            now=until,
            batch_members=max(1, options["batch"]),
            points=not options["no_points"],
            analytics=True,
        )
        self.stdout.write(f"Generating {config.members:,} members over {config.months} months (seed {config.seed})…")
        self._last_report = 0.0
        stats = generate(config, progress=lambda s: self._progress(s, config.members))
        self._summary(stats)

    def _progress(self, stats: DemoStats, total: int) -> None:
        now = time.monotonic()
        if now - self._last_report < 5 and stats.members < total:  # a line every five seconds is enough
            return
        self._last_report = now
        self.stdout.write(
            f"  {stats.members:>10,} / {total:,} members, {stats.transactions:,} transactions, {stats.seconds:.0f} s"
        )

    def _summary(self, stats: DemoStats) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {stats.seconds:.1f} s: {stats.members:,} members ({stats.members_per_second:,.0f}/s), "
                f"{stats.transactions:,} transactions ({stats.transactions_per_second:,.0f}/s), {stats.lines:,} lines, "
                f"{stats.timeline:,} timeline rows, {stats.consents:,} consents, {stats.tags:,} tags."
            )
        )
        if stats.ledger is not None:
            self._ledger_summary(stats.ledger)
        self.stdout.write(
            f"Tiers: the retail tier model is live; {stats.tiers:,} members placed above the lowest tier."
        )
        if stats.rewards is not None:
            r = stats.rewards
            self.stdout.write(
                f"Points mall: {r.rewards} rewards, {r.orders:,} orders; {r.coupons:,} coupons issued, "
                f"{r.redemptions:,} used at the till; {r.badges:,} badges awarded."
            )
        if stats.analytics is not None:
            a = stats.analytics
            self.stdout.write(
                f"Analytics: {a.runs} refreshes; {a.members:,} members, {a.overdue:,} overdue, {a.gone_cold:,} gone "
                f"cold; {a.transitions:,} lifecycle moves, {a.episodes:,} churn episodes."
            )

    def _ledger_summary(self, t: LedgerTotals) -> None:
        self.stdout.write(
            f"Points ledger: {t.journals:,} journals ({t.earns:,} earns, {t.clawbacks:,} clawbacks, "
            f"{t.redemptions:,} redemptions, {t.expiries:,} expiries, {t.releases:,} releases), "
            f"{t.postings:,} postings, {t.lots:,} lots, {t.lot_moves:,} lot moves, {t.accounts:,} member accounts."
        )
        self.stdout.write(
            f"Points: issued {t.issued:,}, clawed back {t.reversed:,}, redeemed {t.redeemed:,}, "
            f"expired {t.expired:,}, written off {t.written_off:,}, outstanding {t.outstanding:,} "
            f"({t.members_with_points:,} members hold points, {t.members_redeemed:,} have redeemed, "
            f"{t.members_expired:,} had points expire, {t.members_owing:,} owe points)."
        )
