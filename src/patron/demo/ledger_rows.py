"""The demo's points ledger: the rows the live system would have written for each generated member.

Each member's sales and refunds (from the generator's drafts) and their own habits with points are
replayed in time order through the ledger's rules (ADR 0007, `patron.ledger.services`), and the
result is emitted as plain tuples for the generator's bulk writers:

- a sale earns ⌊amount in yuan⌋ × 1 purchase points (the retail preset): an EARN journal with the
  sale, postings issuance −n / member pending or available +n, and a lot that expires by the
  program's rule for purchase points (default 23:59:59 Shanghai on 31 December of the next year);
- a refund takes back its share of the sale's points as `do_apply_refund` does (⌊n × refunded so
  far / sale⌋ less what earlier refunds took): a CLAWBACK journal taking from the sale's own lot
  first, then other available lots first-expiring-first; a shortfall follows the clawback policy
  (the member's debt account, or written off to the program's clawback account);
- some members pay with points at the till (a REDEEM journal with the sale) or in the points mall,
  or hurry to spend points before the year-end; a REDEEM consumes available lots
  first-expiring-first and never happens while the member owes points;
- the nightly expiry sweeps what is past its date: one EXPIRE journal per member per run;
- member accounts are created as they are first posted to, with balance = sum of their postings.

One shortcut, for speed: the live system posts every sale's points to the pending account and an
hourly job moves them to available once the return window has passed (a RELEASE journal). Here
the points of a sale whose window closed before `now` are posted straight to the available
account, and a lot still inside its window is pending, as it would be now. A RELEASE journal is
written only where the live release does more than move points along: when it repays a debt.
Points spent at the till are never spent on a sale that is refunded later (the restore path is
not replayed).

Pure apart from `prepare`: the same drafts, seed and program give the same rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Max, Model

from patron.ledger import program
from patron.ledger.models import Account, AccountKind, Journal, JournalKind, Lot, LotMove, PointType, Posting
from patron.members.models import TimelineEntry

if TYPE_CHECKING:
    from patron.demo.generator import MemberDraft, RowBuilder, Txn

ACTOR = "demo"
POINTS_PER_YUAN = 1  # the retail preset: 1 point per ¥1
RULE_NAME = "1 point per ¥1 (demo history)"
DAY = 86400
CHINA_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving
NEVER = float("inf")

# The points mall's catalogue: (points, item).
MALL_ITEMS: list[tuple[int, str]] = [
    (500, "5元无门槛券"),
    (800, "环保购物袋"),
    (1000, "10元无门槛券"),
    (1500, "土鸡蛋一盒(30枚)"),
    (2500, "金龙鱼食用油 5L"),
    (3500, "洗衣液 3kg 装"),
    (5000, "膳魔师保温杯"),
    (8000, "电影票两张"),
    (12000, "小米充电宝"),
]
CHEAPEST_ITEM = MALL_ITEMS[0][0]
TILL_MINIMUM = 500  # points a member keeps before paying with them at the till

PURCHASE = str(PointType.PURCHASE)
AVAILABLE, PENDING, DEBT = str(AccountKind.AVAILABLE), str(AccountKind.PENDING), str(AccountKind.DEBT)
ISSUANCE, REDEMPTION = str(AccountKind.ISSUANCE), str(AccountKind.REDEMPTION)
EXPIRY, CLAWBACK = str(AccountKind.EXPIRY), str(AccountKind.CLAWBACK)
MEMBER_KINDS = frozenset({AVAILABLE, PENDING, DEBT})
EARN, RELEASE, REDEEM = str(JournalKind.EARN), str(JournalKind.RELEASE), str(JournalKind.REDEEM)
CLAWBACK_JOURNAL, EXPIRE = str(JournalKind.CLAWBACK), str(JournalKind.EXPIRE)

_PLACEHOLDER = 987654321
_RULES_HEAD, _RULES_TAIL = json.dumps(
    {"rules": [{"id": None, "name": RULE_NAME, "points": _PLACEHOLDER, "type": PURCHASE}]}
).split(str(_PLACEHOLDER))


def fast_stamper(time_format: str) -> Callable[[int], str]:
    """`time.strftime(time_format, time.gmtime(at))` for the generator's two formats, from a table
    of times of day and a cache of dates: the ledger stamps three times per sale."""
    base = "%Y-%m-%d %H:%M:%S"
    if not time_format.startswith(base):
        raise ValueError(f"unexpected time format {time_format!r}")
    suffix = time_format[len(base) :]
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)]
    dates: dict[int, str] = {}

    def stamp(at: int) -> str:
        day, second = divmod(at, DAY)
        date = dates.get(day)
        if date is None:
            date = dates[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * DAY))
        return date + times[second]

    return stamp


def _table(model: type[Model], *names: str) -> tuple[str, list[str]]:
    meta = model._meta
    return meta.db_table, [str(meta.get_field(n).column) for n in names]  # type: ignore[union-attr]


ACCOUNT_COLUMNS = _table(Account, "id", "member", "kind", "point_type", "balance")
JOURNAL_COLUMNS = _table(
    Journal,
    "id",
    "kind",
    "member",
    "points",
    "transaction",
    "reverses",
    "hold",
    "memo",
    "detail",
    "created_at",
    "actor_label",
)
POSTING_COLUMNS = _table(Posting, "id", "journal", "account", "amount")
LOT_COLUMNS = _table(
    Lot,
    "id",
    "member",
    "point_type",
    "journal",
    "transaction",
    "amount",
    "remaining",
    "pending",
    "available_at",
    "expires_at",
    "earned_at",
)
LOT_MOVE_COLUMNS = _table(LotMove, "id", "lot", "journal", "amount")
# In the order the writers load them (foreign keys are checked at commit on both databases).
TABLES = [ACCOUNT_COLUMNS, JOURNAL_COLUMNS, POSTING_COLUMNS, LOT_COLUMNS, LOT_MOVE_COLUMNS]
MODELS: list[type[Model]] = [Account, Journal, Posting, Lot, LotMove]
TIMELINE_TABLE = TimelineEntry._meta.db_table


@dataclass
class LedgerTotals:
    """What the demo ledger holds, counted as it is written (the liability figures of
    `patron.ledger.queries.liability`, which the tests compare against)."""

    journals: int = 0
    postings: int = 0
    lots: int = 0
    lot_moves: int = 0
    accounts: int = 0
    earns: int = 0
    clawbacks: int = 0
    redemptions: int = 0
    expiries: int = 0
    releases: int = 0
    issued: int = 0
    reversed: int = 0
    redeemed: int = 0
    expired: int = 0
    written_off: int = 0
    outstanding: int = 0
    members_with_points: int = 0
    members_redeemed: int = 0
    members_expired: int = 0
    members_owing: int = 0


class _Lot:
    """A lot being replayed. In the list of journals it stands for its EARN journal (the common
    case, written without a journal object: issuance −amount, the lot's account +amount)."""

    __slots__ = (
        "amount",
        "available_at",
        "earned_at",
        "expires_at",
        "id",
        "journal",
        "pending",
        "remaining",
        "stamp",
        "txn",
        "via_pending",
    )

    def __init__(
        self,
        id: int,
        journal: int,
        txn: int,
        amount: int,
        earned_at: int,
        available_at: int,
        expires_at: int | None,
        pending: bool,
    ) -> None:
        self.id = id
        self.journal = journal
        self.txn = txn
        self.amount = amount
        self.remaining = amount
        self.earned_at = earned_at
        self.available_at = available_at  # spendable from then on (the return window's end)
        self.expires_at = expires_at
        self.pending = pending  # still inside its return window at `now`
        self.via_pending = pending  # its earn was posted to the pending account
        self.stamp = ""  # its earn's time, once written


# A posting's account: a kind, or a lot still inside its return window (whose account is known
# once the replay knows whether a RELEASE journal moves it through pending).
_Key = Any


class _Journal:
    __slots__ = ("at", "detail", "id", "kind", "memo", "moves", "postings", "purpose", "reverses", "txn")

    def __init__(self, id: int, kind: str, at: int, txn: int | None, reverses: int | None, memo: str) -> None:
        self.id = id
        self.kind = kind
        self.at = at
        self.txn = txn
        self.reverses = reverses
        self.memo = memo
        self.detail = "{}"
        self.purpose = ""  # of a redemption
        self.postings: list[tuple[_Key, int]] = []
        self.moves: list[tuple[_Lot, int]] = []


class _Earned:
    """A refunded sale's earn journal and what refunds have taken back from it."""

    __slots__ = ("cents", "clawed", "journal", "lots", "points", "refunded")

    def __init__(self, journal: int, points: int, lots: list[_Lot], cents: int) -> None:
        self.journal = journal
        self.points = points
        self.lots = lots
        self.cents = cents
        self.refunded = 0
        self.clawed = 0


class LedgerRowBuilder:
    """Replays each member's history through the ledger's rules and appends the rows to `out`."""

    def __init__(
        self,
        *,
        now: int,
        start: int,
        seed: int,
        config: program.ProgramConfig,
        program_accounts: dict[str, int],
        stamp: Callable[[int], str],
        store_codes: list[str],
        timeline_ids: Iterator[int],
        first_ids: dict[str, int] | None = None,
    ) -> None:
        self.now = now
        self.start = start
        # Its own stream: the ledger's draws never shift the generator's members and purchases.
        self.rng = random.Random(seed * 1_000_003 + 0x1ED6E5)
        self.config = config
        self.window = config.return_window_days * DAY
        self.negative = config.clawback_policy == program.ClawbackPolicy.NEGATIVE
        self.rate = config.points_per_currency_unit
        self.pays_at_till = PURCHASE in config.spendable_types(program.Purpose.PAYMENT)
        self.pays_in_mall = PURCHASE in config.spendable_types(program.Purpose.REWARD)
        self.program_accounts = program_accounts
        self.stamp = stamp
        self.store_codes = store_codes
        self.timeline_ids = timeline_ids
        first = first_ids or {}
        self.ids = {table: itertools.count(first.get(table, 1)) for table, _cols in TABLES}
        self.totals = LedgerTotals()
        self._expiry_by_day: dict[int, int | None] = {}
        self._expiry_stamps: dict[int, str] = {}
        self._decembers = self._december_days()

    # ----------------------------------------------------------------------- helpers

    def _expiry(self, at: int) -> int | None:
        """The program's expiry for purchase points earned at `at`; it depends on the local day alone."""
        day = (at + CHINA_OFFSET) // DAY
        try:
            return self._expiry_by_day[day]
        except KeyError:
            expires = self.config.expiry_for(PURCHASE, dt.datetime.fromtimestamp(at, dt.UTC))
            value = None if expires is None else int(expires.timestamp())
            self._expiry_by_day[day] = value
            return value

    def _december_days(self) -> list[int]:
        """Local midnight of 1 December for each year in range: the year-end rush to spend points."""
        first = dt.datetime.fromtimestamp(self.start + CHINA_OFFSET, dt.UTC).year
        last = dt.datetime.fromtimestamp(self.now + CHINA_OFFSET, dt.UTC).year
        return [int(dt.datetime(y, 12, 1, tzinfo=dt.UTC).timestamp()) - CHINA_OFFSET for y in range(first, last + 1)]

    # ----------------------------------------------------------------------- one member

    def member_rows(self, m: MemberDraft, out: dict[str, list[tuple[Any, ...]]]) -> None:
        if not m.transactions:
            return
        replay = _Replay(self, m)
        replay.run()
        self._emit(m, replay, out)

    def _emit(self, m: MemberDraft, replay: _Replay, out: dict[str, list[tuple[Any, ...]]]) -> None:
        """Journals with their postings (by account, netted as `_write` does), lot moves, lots and
        the member's accounts with their balances; redemptions and expiries on the timeline."""
        member_id, stamp, program_accounts = m.id, self.stamp, self.program_accounts
        journals, postings, moves = out[JOURNAL_COLUMNS[0]], out[POSTING_COLUMNS[0]], out[LOT_MOVE_COLUMNS[0]]
        posting_ids, move_ids = self.ids[POSTING_COLUMNS[0]], self.ids[LOT_MOVE_COLUMNS[0]]
        issuance = program_accounts[ISSUANCE]
        written_postings, written_moves = len(postings), len(moves)
        accounts: dict[str, int] = {}  # member account ids by kind, in the order first posted to
        balances: dict[str, int] = {}

        def account(key: str) -> int:
            found = accounts.get(key)
            if found is None:
                found = accounts[key] = next(self.ids[ACCOUNT_COLUMNS[0]])
                balances[key] = 0
            return found

        for j in replay.journals:
            if isinstance(j, _Lot):  # an earn: issuance → the lot's account
                key = PENDING if j.via_pending else AVAILABLE
                target = accounts.get(key) or account(key)
                delta = j.amount
                balances[key] += delta
                postings.append((next(posting_ids), j.journal, issuance, -delta))
                postings.append((next(posting_ids), j.journal, target, delta))
                j.stamp = created = stamp(j.earned_at)
                journals.append(
                    (
                        j.journal,
                        EARN,
                        member_id,
                        delta,
                        j.txn,
                        None,
                        None,
                        "",
                        f"{_RULES_HEAD}{delta}{_RULES_TAIL}",
                        created,
                        ACTOR,
                    )
                )
                continue
            entries = j.postings
            sums: dict[str, int] = {}
            for key, amount in entries:
                if key.__class__ is _Lot:
                    key = PENDING if key.via_pending else AVAILABLE
                sums[key] = sums.get(key, 0) + amount
            delta = 0
            for key, amount in sums.items():
                if not amount:
                    continue
                target = program_accounts.get(key) or 0
                if not target:
                    target = account(key)
                    balances[key] += amount
                    delta += amount
                postings.append((next(posting_ids), j.id, target, amount))
            for lot, amount in j.moves:
                moves.append((next(move_ids), lot.id, j.id, amount))
            created = stamp(j.at)
            journals.append((j.id, j.kind, member_id, delta, j.txn, j.reverses, None, j.memo, j.detail, created, ACTOR))
            if j.kind == REDEEM:  # the services put redemptions and expiries on the member's timeline
                data = f'{{"points": {-delta}, "purpose": "{j.purpose}", "journal_id": {j.id}}}'
                out[TIMELINE_TABLE].append(
                    (next(self.timeline_ids), member_id, created, "points_redeemed", data, ACTOR)
                )
            elif j.kind == EXPIRE:
                data = f'{{"points": {-delta}, "journal_id": {j.id}}}'
                out[TIMELINE_TABLE].append((next(self.timeline_ids), member_id, created, "points_expired", data, ACTOR))
        lots, window, expiry_stamps = out[LOT_COLUMNS[0]], self.window, self._expiry_stamps

        def expiry_stamp(at: int) -> str:
            text = expiry_stamps[at] = stamp(at)
            return text

        for lot in replay.lots:
            expires = lot.expires_at
            lots.append(
                (
                    lot.id,
                    member_id,
                    PURCHASE,
                    lot.journal,
                    lot.txn,
                    lot.amount,
                    lot.remaining,
                    lot.pending,
                    stamp(lot.available_at) if window else None,
                    None if expires is None else expiry_stamps.get(expires) or expiry_stamp(expires),
                    lot.stamp or stamp(lot.earned_at),
                )
            )
        rows = out[ACCOUNT_COLUMNS[0]]
        for key, account_id in accounts.items():
            rows.append((account_id, member_id, key, PURCHASE, balances[key]))
        totals = self.totals
        totals.accounts += len(accounts)
        totals.postings += len(postings) - written_postings
        totals.lot_moves += len(moves) - written_moves
        totals.journals += len(replay.journals)
        totals.lots += len(replay.lots)
        totals.outstanding += sum(balances.values())
        totals.members_with_points += balances.get(AVAILABLE, 0) > 0
        totals.members_owing += balances.get(DEBT, 0) < 0
        totals.members_redeemed += replay.redeemed > 0
        totals.members_expired += replay.expired > 0


class _Replay:
    """One member's history in time order, as the ledger's services would have handled it."""

    def __init__(self, builder: LedgerRowBuilder, m: MemberDraft) -> None:
        self.b = builder
        self.m = m
        self.journals: list[_Journal | _Lot] = []  # in the order written (a lot stands for its earn)
        self.lots: list[_Lot] = []  # in the order earned: so by return window's end, and by expiry
        self.debt = 0  # ≤ 0
        self.repay_from = 0  # with a debt: lots[repay_from:] have not been released yet
        self.swept = 0  # lots[:swept] have been through an expiry run
        self.next_run = NEVER  # the next expiry run with lots to look at
        self.earned: dict[int, _Earned] = {}
        self.redeemed = 0
        self.expired = 0
        self.journal_ids = builder.ids[JOURNAL_COLUMNS[0]]
        self.lot_ids = builder.ids[LOT_COLUMNS[0]]
        # Nothing is spent once the membership is frozen or closed.
        self.spend_until = m.status_at if m.status in ("frozen", "closed") and m.status_at else builder.now

    def run(self) -> None:
        b, m, rng = self.b, self.m, self.b.rng
        txns = m.transactions
        refunded = {t.original_id for t in txns if t.original_id is not None}
        # The member's habits with points.
        roll = rng.random()
        till = b.pays_at_till and roll < 0.22  # pays part of a basket with points when there are enough
        mall = b.pays_in_mall and 0.15 < roll < 0.32  # orders from the points mall now and then
        year_end = b.pays_in_mall and rng.random() < (0.5 if mall else 0.2)  # spends before points expire
        events: list[tuple[int, int, int, Any]] = [(t.at, t.id, 0, t) for t in txns]  # (at, order, what, object)
        if mall:
            for t in txns:
                if t.original_id is None and rng.random() < 0.3:
                    at = t.at + int(rng.uniform(1, 30) * DAY)
                    if at < self.spend_until:
                        events.append((at, len(events), 1, False))
        if year_end:
            for december in b._decembers:
                at = december + rng.randrange(28) * DAY + rng.randrange(9 * 3600, 23 * 3600)
                if m.joined_at <= at < self.spend_until:
                    events.append((at, len(events), 1, True))
        events.sort()  # (sales come in time order, a refund comes some days after its sale)
        for at, _order, what, obj in events:
            if at >= self.next_run or self.debt:
                self.advance(at)
            if what:
                self.mall(at, obj)
            elif obj.original_id is None:
                self.sale(obj, obj.id in refunded, till)
            else:
                self.refund(obj)
        self.advance(b.now)

    # ----------------------------------------------------------------------- the ledger's moves

    def _journal(self, kind: str, at: int, txn: int | None, reverses: int | None, memo: str) -> _Journal:
        j = _Journal(next(self.journal_ids), kind, at, txn, reverses, memo)
        self.journals.append(j)
        return j

    def _take(self, j: _Journal, lot: _Lot, points: int, to: str, at: int) -> None:
        lot.remaining -= points
        j.moves.append((lot, -points))
        # A lot past its return window is in available; one inside it is in pending, or in
        # available if its release is not replayed (see the module's docstring).
        j.postings.append((lot if lot.available_at > at else AVAILABLE, -points))
        j.postings.append((to, points))

    def _spendable(self, at: int) -> list[_Lot]:
        """Released, unexpired lots with points left, first expiring first (never-expiring last)."""
        lots = [
            lot
            for lot in self.lots
            if lot.remaining and lot.available_at <= at and (lot.expires_at is None or lot.expires_at > at)
        ]
        if len(lots) > 1:
            lots.sort(key=lambda lot: (NEVER if lot.expires_at is None else lot.expires_at, lot.id))
        return lots

    def advance(self, at: int) -> None:
        """Run what the scheduled jobs did up to `at`, in time order: the nightly expiry, and the
        release of lots past their return window while the member owes points (a release that
        repays a debt writes a journal; others need none here, see the module's docstring)."""
        lots = self.lots
        while True:
            release = NEVER
            if self.debt and self.b.window:
                while self.repay_from < len(lots) and not lots[self.repay_from].remaining:
                    self.repay_from += 1
                if self.repay_from < len(lots):
                    release = lots[self.repay_from].available_at
            if release <= at and release <= self.next_run:
                self._release(lots[self.repay_from])
                self.repay_from += 1
            elif self.next_run <= at:
                self._expire(int(self.next_run))
            else:
                return

    def _release(self, lot: _Lot) -> None:
        repay = min(lot.remaining, -self.debt)
        lot.via_pending = True
        j = self._journal(RELEASE, lot.available_at, None, None, "return window passed")
        j.postings += [(PENDING, -lot.remaining), (AVAILABLE, lot.remaining - repay), (DEBT, repay)]
        lot.remaining -= repay
        j.moves.append((lot, -repay))
        self.debt += repay
        self.b.totals.releases += 1

    def _expire(self, at: int) -> None:
        """The nightly run at `at`: one journal for everything of the member's past its date."""
        lots, first = self.lots, self.swept
        end = first
        while end < len(lots) and lots[end].expires_at is not None and lots[end].expires_at <= at:  # type: ignore[operator]
            end += 1
        self.swept = end
        following = lots[end].expires_at if end < len(lots) else None
        self.next_run = NEVER if following is None else following + 1
        due = [lot for lot in lots[first:end] if lot.remaining]
        if not due:
            return
        j = self._journal(EXPIRE, at, None, None, "expired")
        j.detail = json.dumps({"lots": [lot.id for lot in due]})
        points = 0
        for lot in due:
            points += lot.remaining
            self._take(j, lot, lot.remaining, EXPIRY, at)
        self.expired += points
        self.b.totals.expired += points
        self.b.totals.expiries += 1

    def sale(self, sale: Txn, refunded: bool, till: bool) -> None:
        b = self.b
        points = sale.cents // 100 * POINTS_PER_YUAN
        journal = next(self.journal_ids)
        b.totals.earns += 1
        b.totals.issued += points
        expires = b._expiry(sale.at)
        if b.window:
            available_at = sale.at + b.window
            lot = _Lot(
                next(self.lot_ids), journal, sale.id, points, sale.at, available_at, expires, available_at > b.now
            )
            self.journals.append(lot)
            lots = [lot]
        else:  # no return window: available at once, repaying any debt first (as `_credit` does)
            j = _Journal(journal, EARN, sale.at, sale.id, None, "")
            j.detail = f"{_RULES_HEAD}{points}{_RULES_TAIL}"
            self.journals.append(j)
            j.postings.append((ISSUANCE, -points))
            repay = min(points, -self.debt)
            if repay:
                j.postings.append((DEBT, repay))
                self.debt += repay
            lots = []
            if points > repay:
                lot = _Lot(next(self.lot_ids), journal, sale.id, points - repay, sale.at, sale.at, expires, False)
                j.postings.append((AVAILABLE, lot.amount))
                lots.append(lot)
        if lots:
            if self.next_run == NEVER and expires is not None:
                self.next_run = expires + 1
            self.lots += lots
        if refunded:
            self.earned[sale.id] = _Earned(journal, points, lots, sale.cents)
        elif till and sale.at < self.spend_until and not self.debt:  # (the restore path is not replayed)
            self.pay_at_till(sale)

    def pay_at_till(self, sale: Txn) -> None:
        b = self.b
        lots = self._spendable(sale.at)
        available = sum(lot.remaining for lot in lots)
        if available < TILL_MINIMUM or b.rng.random() < 0.4:
            return
        # Whole yuan, and never worth more than the sale.
        points = min(available, sale.cents * b.rate // 100) // b.rate * b.rate
        if points > 0:
            memo = f"{b.store_codes[sale.store]}-{sale.id:010d}"
            self._redeem(sale.at, lots, points, program.Purpose.PAYMENT, sale.id, memo)

    def mall(self, at: int, year_end: bool) -> None:
        if self.debt:
            return  # redemption is refused while points are owed
        b = self.b
        lots = self._spendable(at)
        available = sum(lot.remaining for lot in lots)
        if available < CHEAPEST_ITEM:
            return
        affordable = [item for item in MALL_ITEMS if item[0] <= available]
        if year_end:
            soon = sum(lot.remaining for lot in lots if lot.expires_at is not None and lot.expires_at < at + 45 * DAY)
            if soon < CHEAPEST_ITEM:
                return
            points, name = affordable[-1]  # the most the member can get before the points go
        else:
            points, name = b.rng.choice(affordable[-3:])
        self._redeem(at, lots, points, program.Purpose.REWARD, None, f"积分商城:{name}")

    def _redeem(self, at: int, lots: list[_Lot], points: int, purpose: str, txn: int | None, memo: str) -> None:
        j = self._journal(REDEEM, at, txn, None, memo)
        j.detail = f'{{"purpose": "{purpose}"}}'
        j.purpose = purpose
        left = points
        for lot in lots:
            take = min(left, lot.remaining)
            self._take(j, lot, take, REDEMPTION, at)
            left -= take
            if not left:
                break
        self.redeemed += points
        self.b.totals.redeemed += points
        self.b.totals.redemptions += 1

    def refund(self, refund: Txn) -> None:
        b = self.b
        earned = self.earned.get(refund.original_id)  # type: ignore[arg-type]
        if earned is None:
            return
        earned.refunded += refund.cents
        share = (
            earned.points
            if earned.refunded >= earned.cents
            else earned.points * earned.refunded // earned.cents  # ⌊n × R / A⌋
        )
        due = share - earned.clawed
        if due <= 0:
            return
        earned.clawed += due
        memo = f"{b.store_codes[refund.store]}-{refund.id:010d}"
        j = self._journal(CLAWBACK_JOURNAL, refund.at, refund.id, earned.journal, memo)
        left = due
        for lot in earned.lots:  # the sale's own lot first
            take = min(left, lot.remaining)
            if take > 0:
                self._take(j, lot, take, ISSUANCE, refund.at)
                left -= take
        if left:
            for lot in self._spendable(refund.at):
                if lot.journal == earned.journal:
                    continue
                take = min(left, lot.remaining)
                self._take(j, lot, take, ISSUANCE, refund.at)
                left -= take
                if not left:
                    break
        if left:  # more than the member has: the clawback policy decides
            j.postings.append((ISSUANCE, left))
            if b.negative:
                j.postings.append((DEBT, -left))
                if not self.debt:  # lots still inside their window will repay it when released
                    self.repay_from = next(
                        (i for i, lot in enumerate(self.lots) if lot.available_at > refund.at), len(self.lots)
                    )
                self.debt -= left
            else:
                j.postings.append((CLAWBACK, -left))
                b.totals.written_off += left
        b.totals.reversed += due
        b.totals.clawbacks += 1


# --------------------------------------------------------------------------- setting up


def prepare(rows: RowBuilder, *, now: int, start: int, seed: int) -> LedgerRowBuilder:
    """Create the program accounts (once) and a builder whose ids follow whatever is already there."""
    config = program.current()
    kinds = [ISSUANCE, REDEMPTION, EXPIRY] + (
        [] if config.clawback_policy == program.ClawbackPolicy.NEGATIVE else [CLAWBACK]
    )
    program_accounts = {
        kind: Account.objects.get_or_create(member=None, kind=kind, point_type=PURCHASE)[0].pk for kind in kinds
    }
    first_ids = {
        model._meta.db_table: (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1  # type: ignore[attr-defined]
        for model in MODELS
    }
    return LedgerRowBuilder(
        now=now,
        start=start,
        seed=seed,
        config=config,
        program_accounts=program_accounts,
        stamp=fast_stamper(rows.time_format),
        store_codes=rows.store_codes,
        timeline_ids=rows.ids["timeline"],
        first_ids=first_ids,
    )
