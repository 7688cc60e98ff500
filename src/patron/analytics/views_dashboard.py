"""The KPI dashboard of member analytics (seed 001): tiles for a period against the one before, the
charts, and every table as CSV or Excel. The figures come from `analytics.kpis` (read-only); this
module reads the filters, formats and lays out.

Filters: the period (a month, quarter or year; the last complete month by default), a store, a tier
and a segment. The store filter keeps the members whose *home store* it is, and counts their
purchases wherever they were made: member KPIs (retention, cohorts, RFM) follow members, and a
member who shops at two stores would otherwise be active, retained and churned in both at once. The
tier filter keeps the members shown at that tier now. The segment comes through `segment_members`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext_lazy, pgettext, pgettext_lazy
from django.utils.translation import gettext as _

from patron.analytics import config, kpis, queries
from patron.analytics.kpis import Figures, Period, PeriodKind
from patron.analytics.models import LifecycleStage, MetricsRun, Segment, ValueClass
from patron.core import clock
from patron.core.permissions import Perm, require_perm
from patron.core.types import yuan
from patron.core.views import file_response
from patron.members.models import Member, Store
from patron.rewards import exports
from patron.rewards.exports import Table
from patron.tiers.services import live_model

DASH = "–"
PERIOD_CHOICES = ((PeriodKind.MONTH, 24), (PeriodKind.QUARTER, 8), (PeriodKind.YEAR, 3))


def segment_members(request: HttpRequest) -> QuerySet[Member] | None:
    """`?segment=<id>`: the members the segment matches now (None: no segment, or none such)."""
    segment = _segment_from(request.GET.get("segment", "").strip())
    return queries.segment_members(segment) if segment is not None else None


def _segment_from(value: str) -> Segment | None:
    return Segment.objects.filter(pk=int(value), archived_at=None).first() if value.isdigit() else None


# =========================================================================== filters


@dataclass(frozen=True)
class Filters:
    period: Period
    store: Store | None
    tier: str
    segment: str  # the raw ?segment=, passed on to exports
    segment_members: QuerySet[Member] | None
    ignored: bool  # some filter was not understood

    @property
    def members(self) -> QuerySet[Member] | None:
        members = self.segment_members
        if self.store is not None:
            members = (members if members is not None else Member.objects.all()).filter(store=self.store)
        if self.tier:
            members = kpis.members_at_tier(self.tier, members)
        return members

    @property
    def query(self) -> str:
        """The filters as a query string, for the export links."""
        store = self.store.pk if self.store else ""
        params = {"period": self.period.key, "store": store, "tier": self.tier, "segment": self.segment}
        return urlencode({k: v for k, v in params.items() if v})


def _period_from(value: str) -> Period | None:
    period = Period.parse(value)
    if period is None or period.start > clock.local_today():
        return None
    return period


def _store_from(value: str) -> Store | None:
    return Store.objects.filter(pk=int(value)).first() if value.isdigit() else None


def _tier_codes() -> list[str]:
    live = live_model()
    return list(live.config.codes) if live is not None else []


def read_filters(request: HttpRequest) -> Filters:
    raw = {name: request.GET.get(name, "").strip() for name in ("period", "store", "tier", "segment")}
    period = _period_from(raw["period"])
    store = _store_from(raw["store"])
    tier = raw["tier"] if raw["tier"] in _tier_codes() else ""
    unknown_segment = bool(raw["segment"]) and _segment_from(raw["segment"]) is None
    ignored = bool(
        (raw["period"] and period is None)
        or (raw["store"] and store is None)
        or (raw["tier"] and not tier)
        or unknown_segment
    )
    return Filters(
        period=period or kpis.last_complete(PeriodKind.MONTH),
        store=store,
        tier=tier,
        segment=raw["segment"],
        segment_members=segment_members(request),
        ignored=ignored,
    )


def _period_options(selected: Period) -> list[tuple[str, list[str]]]:
    labels = {PeriodKind.MONTH: _("Months"), PeriodKind.QUARTER: _("Quarters"), PeriodKind.YEAR: _("Years")}
    groups = []
    for kind, count in PERIOD_CHOICES:
        keys = [p.key for p in kpis.recent_periods(kind, count)]
        if selected.kind == kind and selected.key not in keys:
            keys.insert(0, selected.key)
        groups.append((labels[kind], keys))
    return groups


def _language() -> str:
    return get_language() or "zh-hans"


def _tier_options() -> list[tuple[str, str]]:
    live = live_model()
    if live is None:
        return []
    return [(tier.code, tier.display(_language())) for tier in live.config.tiers]


# =========================================================================== formatting


class Unit(StrEnum):
    COUNT = "count"
    MONEY = "money"
    PERCENT = "percent"
    POINTS = "points"


def shown(value: Any, unit: Unit) -> str:
    if value is None:
        return DASH
    if unit == Unit.MONEY:
        return yuan(value)
    if unit == Unit.PERCENT:
        return f"{Decimal(value):.1f}%"
    return f"{value:,}"


def _signed(value: Decimal) -> str:
    return f"+{value}" if value > 0 else f"{value}"


def change(current: Any, previous: Any, unit: Unit) -> tuple[str, int]:
    """The change against the previous period as shown, and its direction (1, 0, −1): rates change
    by percentage points, everything else by a share of the previous figure."""
    if current is None or previous is None:
        return DASH, 0
    if unit == Unit.PERCENT:
        delta = (Decimal(current) - Decimal(previous)).quantize(kpis.TENTH)
        return _("%(delta)s pp") % {"delta": _signed(delta)}, (delta > 0) - (delta < 0)
    if not previous:
        return DASH, (current > 0) - (current < 0)
    delta = ((Decimal(current) - Decimal(previous)) * kpis.HUNDRED / abs(Decimal(previous))).quantize(kpis.TENTH)
    return f"{_signed(delta)}%", (delta > 0) - (delta < 0)


# =========================================================================== the tiles


@dataclass(frozen=True)
class TileSpec:
    key: str
    label: Any  # lazy
    unit: Unit
    read: Callable[[Figures], Any]
    definition: Any  # lazy
    better: int = 1  # 1: up is good, −1: down is good, 0: neither


TILES = [
    TileSpec(
        "members_total",
        gettext_lazy("Members"),
        Unit.COUNT,
        lambda f: f.members_total,
        gettext_lazy("Live members who had joined by the end of the period (by their status today)."),
    ),
    TileSpec(
        "new_members",
        gettext_lazy("New members"),
        Unit.COUNT,
        lambda f: f.new_members,
        gettext_lazy("Members who joined in the period."),
    ),
    TileSpec(
        "active_members",
        gettext_lazy("Active members"),
        Unit.COUNT,
        lambda f: f.active_members,
        gettext_lazy("Members with at least one purchase in the period."),
    ),
    TileSpec(
        "retention_rate",
        gettext_lazy("Retention rate"),
        Unit.PERCENT,
        lambda f: f.retention_rate,
        gettext_lazy("Share of the previous period's active members who bought again in this period."),
    ),
    TileSpec(
        "churn_rate",
        gettext_lazy("Churn rate"),
        Unit.PERCENT,
        lambda f: f.churn_rate,
        gettext_lazy(
            "The previous period's active members who did not buy again in this period: 100 less the retention rate."
        ),
        better=-1,
    ),
    TileSpec(
        "repeat_purchase_rate",
        gettext_lazy("Repeat purchase rate"),
        Unit.PERCENT,
        lambda f: f.repeat_purchase_rate,
        gettext_lazy("Share of the period's buyers who bought on two or more days in it."),
    ),
    TileSpec(
        "net_sales",
        gettext_lazy("Member net sales"),
        Unit.MONEY,
        lambda f: f.net_sales,
        gettext_lazy("Sales less refunds of the members in the period."),
    ),
    TileSpec(
        "arpu",
        gettext_lazy("ARPU (net sales per active member)"),
        Unit.MONEY,
        lambda f: f.arpu,
        gettext_lazy("Member net sales divided by the active members."),
    ),
    TileSpec(
        "member_revenue_share",
        gettext_lazy("Member share of revenue"),
        Unit.PERCENT,
        lambda f: f.member_revenue_share,
        gettext_lazy(
            "The selected members' net sales against all recorded net sales. Every recorded sale carries "
            "a member, so over all members this is 100%."
        ),
    ),
    TileSpec(
        "points_issued",
        gettext_lazy("Points issued"),
        Unit.POINTS,
        lambda f: f.points.issued,
        gettext_lazy("Points credited in the period, net of reversals."),
        better=0,
    ),
    TileSpec(
        "points_redeemed",
        gettext_lazy("Points redeemed"),
        Unit.POINTS,
        lambda f: f.points.redeemed,
        gettext_lazy("Points spent in the period, net of points returned after a refund."),
        better=0,
    ),
    TileSpec(
        "points_expired",
        gettext_lazy("Points expired"),
        Unit.POINTS,
        lambda f: f.points.expired,
        gettext_lazy("Points that reached their expiry date in the period."),
        better=0,
    ),
    TileSpec(
        "outstanding_points",
        gettext_lazy("Outstanding points (liability)"),
        Unit.POINTS,
        lambda f: f.outstanding_points,
        gettext_lazy("Points members held at the end of the period: available, pending and held, less points owed."),
        better=0,
    ),
    TileSpec(
        "redemption_rate",
        pgettext_lazy("points", "Redemption rate"),
        Unit.PERCENT,
        lambda f: f.redemption_rate,
        gettext_lazy("Points redeemed per point issued in the period."),
    ),
]


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    definition: str
    value: Any  # raw, for the export
    previous: Any
    shown: str
    previous_shown: str
    change: str
    direction: int  # 1 up, −1 down, 0 flat
    tone: str  # "good", "bad" or ""


def _tile(spec: TileSpec, now: Figures, before: Figures) -> Tile:
    value, previous = spec.read(now), spec.read(before)
    text, direction = change(value, previous, spec.unit)
    tone = "" if not spec.better or not direction else ("good" if direction == spec.better else "bad")
    return Tile(
        key=spec.key,
        label=str(spec.label),
        definition=str(spec.definition),
        value=value,
        previous=previous,
        shown=shown(value, spec.unit),
        previous_shown=shown(previous, spec.unit),
        change=text,
        direction=direction,
        tone=tone,
    )


def tiles(filters: Filters) -> list[Tile]:
    now, before = kpis.compare(filters.period, filters.members)
    return [_tile(spec, now, before) for spec in TILES]


def pending_tiles() -> list[dict[str, str]]:
    """Figures defined now that need data the program does not hold yet; no number is made up."""
    return [
        {
            "key": "satisfaction",
            "label": _("Satisfaction index (CSI/NPS)"),
            "note": _("Available when surveys exist."),
            "definition": _(
                "CSI: the average satisfaction score of the period's survey answers. NPS: the share of "
                "promoters (9–10) less the share of detractors (0–6) among members asked how likely they "
                "are to recommend us."
            ),
        },
        {
            "key": "roi",
            "label": _("Program cost / ROI"),
            "note": _("Available when campaign costs exist."),
            "definition": _(
                "Program cost: recruitment, contact, rewards and service in the period. ROI: the members' "
                "incremental gross margin less the program cost, divided by the program cost."
            ),
        },
    ]


# =========================================================================== the tables


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _kpi_table(filters: Filters, rows: list[Tile]) -> Table:
    period, previous = filters.period.key, filters.period.previous().key
    body: list[list[Any]] = [[t.label, _cell(t.value), _cell(t.previous), t.change] for t in rows]
    body += [[t["label"], "", "", t["note"]] for t in pending_tiles()]
    return Table("kpi-figures", _("KPIs"), [_("KPI"), period, previous, _("Change on the previous period")], body)


def _cohort_table(cohorts: list[kpis.Cohort]) -> Table:
    headers = [_("Join month"), _("Members who joined")]
    headers += [_("Month %(n)s (%%)") % {"n": k} for k in range(kpis.COHORTS)]
    rows = [[f"{c.month:%Y-%m}", c.size, *(_cell(r) for r in c.rates)] for c in cohorts]
    return Table("kpi-cohorts", _("Cohort retention"), headers, rows)


def _rfm_table(cells: list[kpis.RfmCell]) -> Table:
    return Table(
        "kpi-rfm",
        _("RFM grid"),
        [_("R score"), _("F score"), _("Members"), _("Average M score"), _("Average monetary")],
        [[c.r, c.f, c.members, _cell(c.average_m), _cell(c.average_monetary)] for c in cells],
    )


def _stage_table(stages: list[tuple[str, int]]) -> Table:
    labels = dict(LifecycleStage.choices)
    return Table(
        "kpi-stages",
        _("Lifecycle stages"),
        [_("Lifecycle stage"), _("Members")],
        [[str(labels[stage]), n] for stage, n in stages],
    )


def _stage_label(stage: str) -> str:
    return str(dict(LifecycleStage.choices)[stage]) if stage else pgettext("lifecycle flow", "Joined")


def _flow_table(flows: list[kpis.Flow]) -> Table:
    return Table(
        "kpi-flows",
        _("Lifecycle flow"),
        [_("From stage"), _("To stage"), _("Stage changes")],
        [[_stage_label(f.from_stage), _stage_label(f.to_stage), f.members] for f in flows],
    )


def _class_table(classes: list[kpis.ClassShare]) -> Table:
    labels = dict(ValueClass.choices)
    return Table(
        "kpi-classes",
        _("Value classes"),
        [
            _("Value class"),
            _("Members"),
            _("Share of members (%)"),
            _("Net spend, long window"),
            _("Share of spend (%)"),
        ],
        [
            [str(labels[c.value_class]), c.members, _cell(c.member_share), c.revenue, _cell(c.revenue_share)]
            for c in classes
        ],
    )


def _lorenz_table(view: kpis.Pareto) -> Table:
    return Table(
        "kpi-lorenz",
        _("Lorenz curve"),
        [_("Buyers, lowest spend first (cumulative %)"), _("Net spend (cumulative %)")],
        [[x, y] for x, y in view.lorenz],
    )


def clv_label(bucket: kpis.ClvBucket) -> str:
    if bucket.low is None:
        return _("under ¥%(high)s") % {"high": f"{bucket.high:,}"}
    if bucket.high is None:
        return _("¥%(low)s and over") % {"low": f"{bucket.low:,}"}
    return f"¥{bucket.low:,}–{bucket.high:,}"


def _clv_table(clv: kpis.ClvDistribution) -> Table:
    rows: list[list[Any]] = [[clv_label(b), b.members] for b in clv.buckets]
    rows.append([_("Not scored"), clv.unscored])
    return Table("kpi-clv", _("CLV distribution"), [_("CLV"), _("Members")], rows)


def _tier_table(mix: list[kpis.TierShare]) -> Table:
    return Table(
        "kpi-tiers",
        _("Tier mix"),
        [_("Tier"), _("Members"), _("Share of members (%)")],
        [[t.name, t.members, _cell(t.share)] for t in mix],
    )


EXPORTS: dict[str, Callable[[Filters], Table]] = {
    "kpis": lambda f: _kpi_table(f, tiles(f)),
    "cohorts": lambda f: _cohort_table(kpis.cohort_retention(f.period.last_day, f.members)),
    "rfm": lambda f: _rfm_table(kpis.rfm_grid(f.members)),
    "stages": lambda f: _stage_table(kpis.lifecycle_stages(f.members)),
    "flows": lambda f: _flow_table(kpis.lifecycle_flows(f.period, f.members)),
    "classes": lambda f: _class_table(kpis.value_classes(f.members)),
    "lorenz": lambda f: _lorenz_table(kpis.pareto(f.members)),
    "clv": lambda f: _clv_table(kpis.clv_distribution(f.members)),
    "tiers": lambda f: _tier_table(kpis.tier_mix(f.members, _language())),
}


# =========================================================================== the charts' data


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _cohort_chart(cohorts: list[kpis.Cohort]) -> dict[str, Any]:
    cells = [
        [k, i, _num(rate), c.buyers[k]]
        for i, c in enumerate(cohorts)
        for k, rate in enumerate(c.rates)
        if rate is not None
    ]
    return {
        "months": [f"{c.month:%Y-%m}" for c in cohorts],
        "offsets": [f"+{k}" for k in range(kpis.COHORTS)],
        "cells": cells,
    }


def _rfm_chart(cells: list[kpis.RfmCell]) -> dict[str, Any]:
    return {
        "cells": [[c.f - 1, c.r - 1, c.members, _num(c.average_m), _num(c.average_monetary)] for c in cells],
        "max": max((c.members for c in cells), default=0),
    }


# One colour per stage on both lifecycle charts, from fresh (blue, green) to fading (amber, red, grey).
STAGE_COLORS = {
    "": "#c9a227",  # joined since the run before
    "prospect": "#b9b9b9",
    "new": "#6baed6",
    "active": "#217a3c",
    "mature": "#2f6f9f",
    "at_risk": "#e0a458",
    "lapsed_recent": "#d9734e",
    "lapsed_mid": "#b8322a",
    "dormant": "#6f6f6f",
}
STAGE_ORDER = ["", *LifecycleStage.values]


def _flow_chart(flows: list[kpis.Flow]) -> dict[str, Any]:
    """Sankey nodes are "from:" and "to:" copies of the stages: a flow back (at risk → active)
    would otherwise be a cycle, which a Sankey cannot draw."""
    links = [{"source": f"from:{f.from_stage}", "target": f"to:{f.to_stage}", "value": f.members} for f in flows]
    used = {("from", f.from_stage) for f in flows} | {("to", f.to_stage) for f in flows}
    nodes = [
        {"name": f"{side}:{stage}", "itemStyle": {"color": STAGE_COLORS[stage]}}
        for side in ("from", "to")
        for stage in STAGE_ORDER
        if (side, stage) in used
    ]
    labels = {f"{side}:{stage}": _stage_label(stage) for side, stage in used}
    return {"nodes": nodes, "links": links, "labels": labels}


def charts(
    cohorts: list[kpis.Cohort],
    rfm: list[kpis.RfmCell],
    stages: list[tuple[str, int]],
    flows: list[kpis.Flow],
    classes: list[kpis.ClassShare],
    view: kpis.Pareto,
    clv: kpis.ClvDistribution,
    mix: list[kpis.TierShare],
) -> dict[str, Any]:
    stage_labels = dict(LifecycleStage.choices)
    return {
        "cohorts": _cohort_chart(cohorts),
        "rfm": _rfm_chart(rfm),
        "stages": {
            "names": [str(stage_labels[s]) for s, _n in stages],
            "members": [{"value": n, "itemStyle": {"color": STAGE_COLORS[s]}} for s, n in stages],
        },
        "flows": _flow_chart(flows),
        "classes": {
            "names": [c.value_class for c in classes],
            "members": [_num(c.member_share) for c in classes],
            "revenue": [_num(c.revenue_share) for c in classes],
        },
        "lorenz": {"points": [[_num(x), _num(y)] for x, y in view.lorenz]},
        "clv": {"names": [clv_label(b) for b in clv.buckets], "members": [b.members for b in clv.buckets]},
        "tiers": [{"name": t.name, "value": t.members, "itemStyle": {"color": t.color}} for t in mix],
        "labels": {
            "empty": _("No data for this view yet."),
            "members": _("Members"),
            "member_share": _("Share of members (%)"),
            "revenue_share": _("Share of spend (%)"),
            "retention": _("Bought in the month (%)"),
            "months_since": _("Months since joining"),
            "join_month": _("Join month"),
            "recency": _("R score"),
            "frequency": _("F score"),
            "average_m": _("Average M score"),
            "average_monetary": _("Average monetary"),
            "buyers": _("Buyers, lowest spend first (cumulative %)"),
            "spend": _("Net spend (cumulative %)"),
            "equality": _("Equal spend"),
            "stage_changes": _("Stage changes"),
        },
    }


# =========================================================================== the last refresh


def _local(at: Any) -> str:
    return date_format(at.astimezone(clock.member_zone()), "Y-m-d H:i") if at else DASH


def refresh_note(run: MetricsRun | None) -> str:
    if run is None:
        return _(
            "No refresh has run yet: the RFM grid, lifecycle stages, value classes, the 80/20 view and "
            "CLV appear after the first nightly refresh."
        )
    return _(
        "RFM, lifecycle stages, value classes, the 80/20 view and CLV are as of the last refresh, on "
        "%(day)s (finished %(at)s), whatever the period chosen."
    ) % {"day": run.as_of.isoformat(), "at": _local(run.finished_at)}


# =========================================================================== the pages


def _download(table: Table, fmt: str) -> HttpResponse:
    return file_response(*exports.table_file(table, fmt))


@require_perm(Perm.ANALYTICS_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = read_filters(request)
    members = filters.members
    rows = tiles(filters)
    cohorts = kpis.cohort_retention(filters.period.last_day, members)
    rfm = kpis.rfm_grid(members)
    stages = kpis.lifecycle_stages(members)
    flows = kpis.lifecycle_flows(filters.period, members)
    classes = kpis.value_classes(members)
    view = kpis.pareto(members)
    clv = kpis.clv_distribution(members)
    mix = kpis.tier_mix(members, _language())
    run = queries.last_run()
    tables = {
        "cohorts": _cohort_table(cohorts),
        "rfm": _rfm_table(rfm),
        "stages": _stage_table(stages),
        "flows": _flow_table(flows),
        "classes": _class_table(classes),
        "lorenz": _lorenz_table(view),
        "clv": _clv_table(clv),
        "tiers": _tier_table(mix),
    }
    context = {
        "filters": filters,
        "period": filters.period,
        "previous": filters.period.previous(),
        "period_options": _period_options(filters.period),
        "stores": Store.objects.order_by("code"),
        "tier_options": _tier_options(),
        "segment_options": [(s.pk, s.name) for s in queries.segments_list()],
        "tiles": rows,
        "pending_tiles": pending_tiles(),
        "rfm_rows": [rfm[i : i + 5] for i in range(0, 25, 5)],
        "pareto": view,
        "long_days": config.current().long_days,
        "run": run,
        "refresh_note": refresh_note(run),
        "tables": tables,
        "chart": charts(cohorts, rfm, stages, flows, classes, view, clv, mix),
    }
    return render(request, "analytics/dashboard.html", context)


@require_perm(Perm.ANALYTICS_VIEW)
def export(request: HttpRequest) -> HttpResponse:
    """One table of the dashboard, for the same filters: ?table=<name>&format=csv|xlsx."""
    name = request.GET.get("table", "")
    fmt = request.GET.get("format", "csv") or "csv"
    if name not in EXPORTS or fmt not in ("csv", "xlsx"):
        raise Http404("no such table")
    return _download(EXPORTS[name](read_filters(request)), fmt)
