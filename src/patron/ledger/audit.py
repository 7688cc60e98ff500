"""The ledger's invariants, checked in bulk by `patron ledger-audit` and by the tests.

Each check is a set-based query, so the audit stays a few scans even at millions of postings.
It returns what failed with the rows concerned; an empty list means every invariant holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, Sum

from patron.ledger import queries
from patron.ledger.models import Account, AccountKind, Hold, HoldStatus, JournalKind, Lot, LotMove, Posting

SAMPLE = 20  # rows named per failed check


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    rows: list[Any] = field(default_factory=list)


def run() -> list[Check]:
    return [
        journals_balance(),
        accounts_sum_to_zero(),
        cached_balances_match_postings(),
        balances_match_open_lots(),
        held_matches_open_holds(),
        lots_match_their_moves(),
        no_negative_balances(),
        debt_only_from_clawbacks(),
        liability_adds_up(),
    ]


def journals_balance() -> Check:
    bad = list(
        Posting.objects.values("journal_id")
        .annotate(s=Sum("amount"))
        .filter(~Q(s=0))
        .values_list("journal_id", "s")[:SAMPLE]
    )
    return Check("every journal balances", not bad, f"{len(bad)} unbalanced" if bad else "", bad)


def accounts_sum_to_zero() -> Check:
    total = Posting.objects.aggregate(s=Sum("amount"))["s"] or 0
    return Check("all accounts sum to zero", total == 0, f"sum = {total}")


def _posting_sums() -> dict[int, int]:
    rows = Posting.objects.filter(account__member__isnull=False).values("account_id").annotate(s=Sum("amount"))
    return {row["account_id"]: row["s"] for row in rows}


def cached_balances_match_postings() -> Check:
    sums = _posting_sums()
    bad = [
        (pk, balance, sums.get(pk, 0))
        for pk, balance in Account.objects.filter(member__isnull=False).values_list("pk", "balance")
        if balance != sums.get(pk, 0)
    ]
    return Check(
        "member balance = sum of postings", not bad, f"{len(bad)} accounts differ" if bad else "", bad[:SAMPLE]
    )


def balances_match_open_lots() -> Check:
    """Available and pending balances per member and point type = the open lots' remainders."""
    lots: dict[tuple[int, str, str], int] = defaultdict(int)
    rows = Lot.objects.filter(remaining__gt=0).values("member_id", "point_type", "pending").annotate(s=Sum("remaining"))
    for row in rows:
        kind = AccountKind.PENDING if row["pending"] else AccountKind.AVAILABLE
        lots[(row["member_id"], row["point_type"], kind)] += row["s"]
    accounts = {
        (member_id, point_type, kind): balance
        for member_id, point_type, kind, balance in Account.objects.filter(
            kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING]
        ).values_list("member_id", "point_type", "kind", "balance")
    }
    keys = set(lots) | {k for k, v in accounts.items() if v}
    bad = [
        (key, accounts.get(key, 0), lots.get(key, 0))
        for key in sorted(keys)
        if accounts.get(key, 0) != lots.get(key, 0)
    ]
    return Check("member balance = sum of open lots", not bad, f"{len(bad)} differ" if bad else "", bad[:SAMPLE])


def held_matches_open_holds() -> Check:
    held = dict(
        Account.objects.filter(kind=AccountKind.HELD)
        .values("member_id")
        .annotate(s=Sum("balance"))
        .values_list("member_id", "s")
    )
    holds = dict(
        Hold.objects.filter(status=HoldStatus.OPEN)
        .values("member_id")
        .annotate(s=Sum("points"))
        .values_list("member_id", "s")
    )
    keys = {k for k, v in held.items() if v} | set(holds)
    bad = [(k, held.get(k, 0), holds.get(k, 0)) for k in sorted(keys) if held.get(k, 0) != holds.get(k, 0)]
    return Check("held balance = open holds", not bad, f"{len(bad)} differ" if bad else "", bad[:SAMPLE])


def lots_match_their_moves() -> Check:
    moves = dict(LotMove.objects.values("lot_id").annotate(s=Sum("amount")).values_list("lot_id", "s"))
    bad = [
        (pk, amount, remaining)
        for pk, amount, remaining in Lot.objects.values_list("pk", "amount", "remaining").iterator()
        if remaining != amount + moves.get(pk, 0)
    ]
    return Check("lot remainder = amount + its moves", not bad, f"{len(bad)} lots differ" if bad else "", bad[:SAMPLE])


def no_negative_balances() -> Check:
    bad = list(
        Account.objects.filter(
            Q(kind__in=[AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD], balance__lt=0)
            | Q(kind=AccountKind.DEBT, balance__gt=0)
        ).values_list("pk", "kind", "balance")[:SAMPLE]
    )
    return Check("no negative balance", not bad, f"{len(bad)} accounts" if bad else "", bad)


def debt_only_from_clawbacks() -> Check:
    """A member owes points only by the clawback policy: no journal other than a clawback or a
    reversal ever pushes a debt account down."""
    bad = list(
        Posting.objects.filter(account__kind=AccountKind.DEBT, amount__lt=0)
        .exclude(journal__kind__in=[JournalKind.CLAWBACK, JournalKind.REVERSAL])
        .values_list("journal_id", "amount")[:SAMPLE]
    )
    return Check("debt only from clawbacks", not bad, f"{len(bad)} postings" if bad else "", bad)


def liability_adds_up() -> Check:
    figures = queries.liability()
    ok = figures.by_movements == figures.outstanding
    detail = (
        f"issued {figures.issued} − reversed {figures.reversed} − redeemed {figures.redeemed} + returned "
        f"{figures.returned} − expired {figures.expired} ± adjusted {figures.adjusted} + written off "
        f"{figures.written_off} = {figures.by_movements}; outstanding {figures.outstanding}"
    )
    return Check("issued − redeemed − expired − reversed ± adjustments = liability", ok, detail)
