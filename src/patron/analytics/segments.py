"""Segment rules (人群): what a marketer can ask about members, validated, and compiled to one
`Q` over `Member`, so a count, a sample, an export and a snapshot are the same SQL.

A segment is a group: `{"match": "all" | "any", "conditions": [condition or group, ...]}`, nested up
to three levels. A condition names a field of `FIELDS` and carries what its kind needs:

- choice: `{"field": "lifecycle_stage", "op": "in" | "not_in", "value": ["at_risk", ...]}`
- range:  `{"field": "clv", "value": [500, null]}`  (at least / at most; null leaves a side open)
- flag:   `{"field": "overdue", "value": true}`
- tags:   `{"field": "tags", "op": "any" | "all" | "none", "value": ["VIP"]}`
- text:   `{"field": "city", "op": "in" | "not_in", "value": ["上海", "杭州"]}`
- attribute: `{"field": "attribute", "key": "pet", "op": "in", "value": ["dog"]}`
- behaviour: `{"field": "bought_category", "value": ["酒水"], "days": 90}`,
  `{"field": "store_spend", "value": [1000, null], "stores": [3], "days": 365}`
- consent: `{"field": "consent", "value": "sms_marketing", "granted": true}`

Relative conditions ("in the last N days", age, days since joining) are evaluated when the segment
is: a dynamic segment moves with time; a snapshot freezes its members.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Exists, OuterRef, Q, Sum
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.analytics import spend
from patron.analytics.models import LifecycleStage, RfmSegment, ValueClass
from patron.core import clock
from patron.ledger.models import Account, AccountKind, Lot
from patron.members.models import (
    LIVE_STATUSES,
    ConsentPurpose,
    ConsentRecord,
    Gender,
    JoinChannel,
    Member,
    MemberAttribute,
    MemberStatus,
    MemberTag,
    Transaction,
    TransactionLine,
)

MAX_DEPTH = 3
MAX_CONDITIONS = 50
Kind = Literal["choice", "range", "flag", "tags", "text", "attribute", "behaviour", "consent"]


class SegmentError(ValueError):
    """A rule that cannot be applied; its message names the condition."""


def refused(cond: Condition, problem: str) -> SegmentError:
    """The error for one condition, naming its field as the builder shows it."""
    spec = FIELDS.get(cond.field)
    label = spec.label if spec else cond.field
    return SegmentError(gettext("%(field)s: %(problem)s.") % {"field": label, "problem": problem})


# --------------------------------------------------------------------------- the rules' shape


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    op: Literal["in", "not_in", "any", "all", "none"] = "in"
    value: Any = None
    key: str | None = None  # attribute: which profile field
    days: int | None = Field(default=None, ge=1, le=3650)  # behaviour: in the last N days
    stores: list[int] | None = None  # store_spend: in these stores (all when empty)
    granted: bool = True  # consent: granted (true) or withdrawn / never given (false)


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: Literal["all", "any"] = "all"
    conditions: list[Condition | Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounded(self) -> Group:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"groups nest at most {MAX_DEPTH} deep")
        if count_conditions(self) > MAX_CONDITIONS:
            raise ValueError(f"at most {MAX_CONDITIONS} conditions")
        return self


def depth(group: Group) -> int:
    return 1 + max((depth(c) for c in group.conditions if isinstance(c, Group)), default=0)


def count_conditions(group: Group) -> int:
    return sum(count_conditions(c) if isinstance(c, Group) else 1 for c in group.conditions)


# --------------------------------------------------------------------------- the fields


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: Any  # lazy translated
    kind: Kind
    group: Any  # where the builder lists it
    build: Callable[[Condition], Q]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    unit: Any = ""  # shown next to range inputs: "¥", YEARS, DAYS, POINTS
    extra: dict[str, Any] = field(default_factory=dict)


def _between(lookup: str, cond: Condition, cast: Callable[[Any], Any] = Decimal) -> Q:
    low, high = _range(cond)
    q = Q()
    if low is not None:
        q &= Q(**{f"{lookup}__gte": cast(low)})
    if high is not None:
        q &= Q(**{f"{lookup}__lte": cast(high)})
    return q


def _range(cond: Condition) -> tuple[Any, Any]:
    value = cond.value
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise refused(cond, gettext("a range is [at least, at most]"))
    low, high = value
    for side in (low, high):
        if side is not None and not isinstance(side, int | float | str | Decimal):
            raise refused(cond, gettext("the ends of the range are numbers"))
    try:
        low = None if low in (None, "") else Decimal(str(low))
        high = None if high in (None, "") else Decimal(str(high))
    except ArithmeticError as exc:
        raise refused(cond, gettext("the ends of the range are numbers")) from exc
    if low is None and high is None:
        raise refused(cond, gettext("give at least one end of the range"))
    if low is not None and high is not None and low > high:
        raise refused(cond, gettext("the lower end is above the upper end"))
    return low, high


def _values(cond: Condition) -> list[Any]:
    value = cond.value
    if not isinstance(value, list) or not value or not all(isinstance(v, str | int) for v in value):
        raise refused(cond, gettext("pick at least one value"))
    return value


def _negatable(cond: Condition, q: Q) -> Q:
    """`in` keeps the members the condition names, `not_in` everyone else; other ops are refused."""
    if cond.op not in ("in", "not_in"):
        raise refused(cond, gettext("is one of, or is none of"))
    return ~q if cond.op == "not_in" else q


def _flag(lookup: str) -> Callable[[Condition], Q]:
    def build(cond: Condition) -> Q:
        if not isinstance(cond.value, bool):
            raise refused(cond, gettext("yes or no"))
        return Q(**{lookup: cond.value})

    return build


def _range_of(lookup: str, cast: Callable[[Any], Any] = Decimal) -> Callable[[Condition], Q]:
    return lambda cond: _between(lookup, cond, cast)


def _checked_choices(spec_choices: Callable[[], list[tuple[str, str]]]) -> Callable[[Condition], list[Any]]:
    def values(cond: Condition) -> list[Any]:
        allowed = {str(k) for k, _label in spec_choices()}
        chosen = _values(cond)
        unknown = [v for v in chosen if str(v) not in allowed]
        if unknown:
            raise refused(cond, gettext("unknown value %(v)s") % {"v": unknown[0]})
        return chosen

    return values


# Profile ------------------------------------------------------------------


def _age(cond: Condition) -> Q:
    """Age in whole years today: born on or before today − low years, after today − (high + 1) years."""
    low, high = _range(cond)
    today = clock.local_today()
    q = Q(birthday__isnull=False)
    if low is not None:
        q &= Q(birthday__lte=_years_before(today, int(low)))
    if high is not None:
        q &= Q(birthday__gt=_years_before(today, int(high) + 1))
    return q


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _joined_days(cond: Condition) -> Q:
    low, high = _range(cond)
    now = clock.now()
    q = Q()
    if low is not None:
        q &= Q(joined_at__lte=now - dt.timedelta(days=int(low)))
    if high is not None:
        q &= Q(joined_at__gt=now - dt.timedelta(days=int(high) + 1))
    return q


def _birthday_month(cond: Condition) -> Q:
    months = [int(v) for v in _values(cond)]
    if any(not 1 <= m <= 12 for m in months):
        raise refused(cond, gettext("months are 1 to 12"))
    return _negatable(cond, Q(birthday__month__in=months))


def _has_email(cond: Condition) -> Q:
    if not isinstance(cond.value, bool):
        raise refused(cond, gettext("yes or no"))
    return ~Q(email="") if cond.value else Q(email="")


def _text_in(lookup: str) -> Callable[[Condition], Q]:
    def build(cond: Condition) -> Q:
        values = [str(v).strip() for v in _values(cond) if str(v).strip()]
        if not values:
            raise refused(cond, gettext("pick at least one value"))
        return _negatable(cond, Q(**{f"{lookup}__in": values}))

    return build


def _attribute(cond: Condition) -> Q:
    if not cond.key:
        raise refused(cond, gettext("choose the profile field"))
    values = _values(cond)
    has = MemberAttribute.objects.filter(member=OuterRef("pk"), definition__key=cond.key, value__in=values)
    return _negatable(cond, Q(Exists(has)))


def _tags(cond: Condition) -> Q:
    names = [str(v) for v in _values(cond)]
    if cond.op == "all":
        q = Q()
        for name in names:
            q &= Q(Exists(MemberTag.objects.filter(member=OuterRef("pk"), tag__name=name)))
        return q
    tagged = Q(Exists(MemberTag.objects.filter(member=OuterRef("pk"), tag__name__in=names)))
    if cond.op == "none":
        return ~tagged
    if cond.op != "any":
        raise refused(cond, gettext("any of, all of or none of"))
    return tagged


# Tier and points ------------------------------------------------------------


def _tier(cond: Condition) -> Q:
    from patron.tiers.queries import members_at

    codes = _checked_choices(_tier_choices)(cond)
    q = Q()
    for code in codes:
        q |= Q(pk__in=members_at(str(code), Member.objects.all()).values("pk"))
    return _negatable(cond, q)


def _tier_choices() -> list[tuple[str, str]]:
    from patron.tiers.queries import tier_list

    return [(t["code"], f"{t['name']} / {t['name_en']}" if t["name_en"] else t["name"]) for t in tier_list()]


def _grouped_range(per_member: Any, column: str, cond: Condition, everyone: Any) -> Q:
    """Members whose per-member total `column` falls in the range; when zero is in it, also those
    with no row at all (they have nothing)."""
    low, high = _range(cond)
    if low is not None:
        per_member = per_member.filter(**{f"{column}__gte": low})
    if high is not None:
        per_member = per_member.filter(**{f"{column}__lte": high})
    q = Q(pk__in=per_member.values("member_id"))
    if spend.zero_inside(low, high):
        q |= ~Q(pk__in=everyone.values("member_id"))
    return q


def _points_balance(cond: Condition) -> Q:
    """The available balance over every point type."""
    accounts = Account.objects.filter(kind=AccountKind.AVAILABLE, member__isnull=False)
    per_member = accounts.values("member_id").annotate(total=Sum("balance"))
    return _grouped_range(per_member, "total", cond, accounts.filter(balance__gt=0))


def _points_expiring(cond: Condition) -> Q:
    """Points left in lots that expire within `days` (default 30)."""
    until = clock.now() + dt.timedelta(days=cond.days or 30)
    lots = Lot.objects.filter(remaining__gt=0, expires_at__isnull=False, expires_at__lte=until)
    per_member = lots.values("member_id").annotate(total=Sum("remaining"))
    return _grouped_range(per_member, "total", cond, lots)


# Behaviour and consent ------------------------------------------------------


def _since(cond: Condition) -> dt.datetime:
    return spend.window_start(cond.days or 90)


def _bought(column: str) -> Callable[[Condition], Q]:
    def build(cond: Condition) -> Q:
        values = [str(v) for v in _values(cond)]
        lines = TransactionLine.objects.filter(
            **{f"{column}__in": values},
            transaction__kind="sale",
            transaction__occurred_at__gte=_since(cond),
        )
        return Q(pk__in=lines.values("transaction__member_id"))

    return build


def _store_spend(cond: Condition) -> Q:
    """Net spend (sales less refunds) in the last `days` days, in the chosen stores (or all). The
    last run's figures answer for a metrics window in all stores (`analytics.spend`); otherwise
    the window's transactions are summed."""
    days = cond.days or 90
    low, high = _range(cond)
    if not cond.stores and (from_run := spend.from_last_run(days, low, high)) is not None:
        return from_run
    txns = Transaction.objects.filter(occurred_at__gte=spend.window_start(days))
    if cond.stores:
        txns = txns.filter(store_id__in=cond.stores)
    return _grouped_range(txns.values("member_id").annotate(net=spend.net_spend()), "net", cond, txns)


def _consent(cond: Condition) -> Q:
    """The current consent is the latest record for the purpose (records are append-only)."""
    if cond.value not in ConsentPurpose.values:
        raise refused(cond, gettext("unknown purpose"))
    records = ConsentRecord.objects.filter(purpose=cond.value)
    later = records.filter(member_id=OuterRef("member_id")).filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk"))
    )
    current_grants = records.filter(granted=True).filter(~Exists(later))
    q = Q(pk__in=current_grants.values("member_id"))
    return q if cond.granted else ~q


# The catalog ---------------------------------------------------------------

YEARS, DAYS, POINTS = _("years"), _("days"), _("points")
PROFILE, ATTRS, TIER_POINTS, ANALYTICS, BEHAVIOUR, CONSENT = (
    _("Profile"),
    _("Profile fields"),
    _("Tier and points"),
    _("Analytics"),
    _("Purchase behaviour"),
    _("Consent"),
)


def _stores() -> list[tuple[str, str]]:
    from patron.members.models import Store

    return [(str(s.pk), s.name) for s in Store.objects.filter(is_active=True).order_by("code")]


def _live_statuses() -> list[tuple[str, str]]:
    return [(s.value, str(s.label)) for s in MemberStatus if s in LIVE_STATUSES]


def _choices(choices: Any) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(str(k), str(v)) for k, v in choices]


def _choice(key: str, label: Any, group: Any, lookup: str, choices: Callable[[], list[tuple[str, str]]]) -> FieldSpec:
    def build(cond: Condition) -> Q:
        return _negatable(cond, Q(**{f"{lookup}__in": _checked_choices(choices)(cond)}))

    return FieldSpec(key, label, "choice", group, build, choices)


def _metric_range(key: str, label: Any, unit: Any = "", cast: Callable[[Any], Any] = Decimal) -> FieldSpec:
    return FieldSpec(key, label, "range", ANALYTICS, _range_of(f"metrics__{key}", cast), unit=unit)


FIELDS: dict[str, FieldSpec] = {
    spec.key: spec
    for spec in [
        _choice("gender", _("Gender"), PROFILE, "gender", _choices(Gender.choices)),
        FieldSpec("age", _("Age"), "range", PROFILE, _age, unit=YEARS),
        FieldSpec("city", _("City"), "text", PROFILE, _text_in("city")),
        _choice("join_channel", _("Join channel"), PROFILE, "join_channel", _choices(JoinChannel.choices)),
        FieldSpec("joined_days", _("Days since joining"), "range", PROFILE, _joined_days, unit=DAYS),
        _choice("store", _("Home store"), PROFILE, "store_id", _stores),
        _choice("status", _("Status"), PROFILE, "status", _live_statuses),
        FieldSpec(
            "birthday_month",
            _("Birthday month"),
            "choice",
            PROFILE,
            _birthday_month,
            lambda: [(str(m), str(m)) for m in range(1, 13)],
        ),
        FieldSpec("has_email", _("Has an email address"), "flag", PROFILE, _has_email),
        FieldSpec("attribute", _("Profile field"), "attribute", ATTRS, _attribute),
        FieldSpec("tags", _("Tags"), "tags", PROFILE, _tags),
        FieldSpec("tier", _("Tier"), "choice", TIER_POINTS, _tier, _tier_choices),
        FieldSpec("points_balance", _("Points balance"), "range", TIER_POINTS, _points_balance, unit=POINTS),
        FieldSpec(
            "points_expiring",
            _("Points expiring"),
            "range",
            TIER_POINTS,
            _points_expiring,
            unit=POINTS,
            extra={"days": 30},
        ),
        _choice("rfm_segment", _("RFM segment"), ANALYTICS, "metrics__rfm_segment", _choices(RfmSegment.choices)),
        _metric_range("r_score", _("R score (1–5)"), cast=int),
        _metric_range("f_score", _("F score (1–5)"), cast=int),
        _metric_range("m_score", _("M score (1–5)"), cast=int),
        _choice("value_class", _("Value class"), ANALYTICS, "metrics__value_class", _choices(ValueClass.choices)),
        _choice(
            "lifecycle_stage",
            _("Lifecycle stage"),
            ANALYTICS,
            "metrics__lifecycle_stage",
            _choices(LifecycleStage.choices),
        ),
        FieldSpec("overdue", _("Overdue for the usual purchase"), "flag", ANALYTICS, _flag("metrics__overdue")),
        FieldSpec("gone_cold", _("Gone cold"), "flag", ANALYTICS, _flag("metrics__gone_cold")),
        _metric_range("clv", _("Customer lifetime value"), unit="¥"),
        _metric_range("p_alive", _("Probability still active (0–1)")),
        _metric_range("recency_days", _("Days since the last purchase"), unit=DAYS, cast=int),
        _metric_range("purchase_days_short", _("Purchase days in the short window"), cast=int),
        _metric_range("purchase_days_medium", _("Purchase days in the medium window"), cast=int),
        _metric_range("purchase_days_long", _("Purchase days in the last year"), cast=int),
        _metric_range("spend_short", _("Spend in the short window"), unit="¥"),
        _metric_range("spend_medium", _("Spend in the medium window"), unit="¥"),
        _metric_range("spend_long", _("Spend in the last year"), unit="¥"),
        _metric_range("average_basket", _("Average basket"), unit="¥"),
        FieldSpec(
            "bought_category",
            _("Bought in category"),
            "behaviour",
            BEHAVIOUR,
            _bought("category"),
            extra={"days": 90},
        ),
        FieldSpec("bought_sku", _("Bought SKU"), "behaviour", BEHAVIOUR, _bought("sku"), extra={"days": 90}),
        FieldSpec(
            "store_spend",
            _("Spend in stores"),
            "range",
            BEHAVIOUR,
            _store_spend,
            unit="¥",
            extra={"days": 365, "stores": True},
        ),
        FieldSpec("consent", _("Consent"), "consent", CONSENT, _consent, _choices(ConsentPurpose.choices)),
    ]
}


# --------------------------------------------------------------------------- compiling


def parse(rules: dict[str, Any] | Group) -> Group:
    """Validate the rules' shape and every condition's field (raises SegmentError)."""
    return compiled(rules)[0]


def compiled(rules: dict[str, Any] | Group) -> tuple[Group, Q]:
    """The rules validated, and their filter over Member. Some conditions read the database to
    compile (`analytics.spend`), so a caller that needs both compiles once."""
    from pydantic import ValidationError

    try:
        group = rules if isinstance(rules, Group) else Group.model_validate(rules or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        # A wrong shape is no builder's doing: pydantic's own words, and where.
        message = gettext("The rules are not valid: %(where)s %(msg)s") % {"where": where, "msg": first["msg"]}
        raise SegmentError(message) from exc
    return group, compile_rules(group)  # every condition builds, or the error names it


def compile_rules(group: Group) -> Q:
    """The group as one Q over Member."""
    combined = Q()
    for item in group.conditions:
        q = compile_rules(item) if isinstance(item, Group) else _condition(item)
        combined = (combined & q) if group.match == "all" else (combined | q)
    return combined


def _condition(cond: Condition) -> Q:
    spec = FIELDS.get(cond.field)
    if spec is None:
        raise SegmentError(gettext("Unknown field %(f)s.") % {"f": cond.field})
    return spec.build(cond)


def members_matching(rules: dict[str, Any] | Group) -> Any:
    """Live members matching the rules, as a queryset (no rules: every live member)."""
    return live_members_where(compiled(rules)[1])


def live_members_where(q: Q) -> Any:
    return Member.objects.filter(status__in=LIVE_STATUSES).filter(q)


# --------------------------------------------------------------------------- for the builder


def catalog() -> dict[str, Any]:
    """What the console's builder offers: every field with its label, kind, group and choices (in
    the page's language), and the profile fields' definitions for `attribute` conditions."""
    from patron.core.i18n import in_reader_language
    from patron.members.models import AttributeDefinition

    fields = [
        {
            "key": spec.key,
            "label": str(spec.label),
            "kind": spec.kind,
            "group": str(spec.group),
            "choices": [[k, v] for k, v in spec.choices()] if spec.choices else [],
            "unit": str(spec.unit),
            **spec.extra,
        }
        for spec in FIELDS.values()
    ]
    attributes = [
        {"key": d.key, "label": in_reader_language(d.label, d.label_en), "choices": d.choices or []}
        for d in AttributeDefinition.objects.filter(is_active=True).order_by("key")
    ]
    return {"fields": fields, "attributes": attributes, "stores": [[k, v] for k, v in _stores()]}
