"""The points mall report and the coupon report, with every table as CSV or Excel. The figures come
from `rewards.reports` (read-only); see `views.py` for what the pages share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from patron.core.permissions import Perm, require_perm
from patron.core.views import file_response
from patron.rewards import exports, forms, reports
from patron.rewards.exports import Table


def _rate(value: Any) -> Any:
    return value if value is not None else ""


# --------------------------------------------------------------------------- the tables


def _reward_rows(rows: list[dict[str, Any]]) -> Table:
    return Table(
        "mall-rewards",
        _("Per reward"),
        [_("Code"), _("Reward"), _("Kind"), _("Orders"), _("Quantity"), _("Points spent"), _("Cash"), _("Cancelled")],
        [
            [
                r["reward"].code,
                r["reward"].display,
                r["reward"].get_kind_display(),
                r["orders"],
                r["quantity"],
                r["points"],
                r["cash"],
                r["cancelled"],
            ]
            for r in rows
        ],
    )


def _month_rows(months: list[dict[str, Any]]) -> Table:
    return Table(
        "mall-months",
        _("Per month"),
        [_("Month"), _("Orders"), _("Quantity"), _("Points spent")],
        [[m["month"], m["orders"], m["quantity"], m["points"]] for m in months],
    )


def _low_rows(rewards: list[Any]) -> Table:
    return Table(
        "mall-low-stock",
        _("Low stock"),
        [_("Code"), _("Reward"), _("Kind"), _("Stock"), _("Redeemed")],
        [[r.code, r.display, r.get_kind_display(), r.stock, r.sold] for r in rewards],
    )


def _batch_rows(rows: list[reports.BatchFigures]) -> Table:
    return Table(
        "coupon-batches",
        _("Per batch"),
        [
            _("Batch code"),
            _("Batch"),
            _("Issued"),
            _("Redeemed"),
            _("Redemption rate (%)"),
            _("Discount given"),
            _("Order amount"),
            _("Matched sales"),
            _("Sales found"),
        ],
        [
            [
                r.batch.code,
                r.batch.display,
                r.issued,
                r.redeemed,
                _rate(r.rate),
                r.discount,
                r.revenue,
                r.sales,
                r.matched,
            ]
            for r in rows
        ],
    )


def _day_rows(days: list[dict[str, Any]]) -> Table:
    return Table(
        "coupon-days",
        _("Per day"),
        [_("Day"), _("Redemptions"), _("Discount given")],
        [[d["day"], d["redemptions"], d["discount"]] for d in days],
    )


MALL_TABLES: dict[str, Callable[[], Table]] = {
    "rewards": lambda: _reward_rows(reports.mall_by_reward()),
    "months": lambda: _month_rows(reports.mall_by_month()),
    "low_stock": lambda: _low_rows(reports.low_stock()),
}
COUPON_TABLES: dict[str, Callable[[], Table]] = {
    "batches": lambda: _batch_rows(reports.coupon_report()),
    "days": lambda: _day_rows(reports.uses_per_day()),
}


def _download(request: HttpRequest, tables: dict[str, Callable[[], Table]]) -> HttpResponse:
    form = forms.ExportForm(request.GET)
    if not form.is_valid() or form.cleaned_data["table"] not in tables:
        raise Http404("no such table")
    fmt = form.cleaned_data["format"] or "csv"
    table = tables[form.cleaned_data["table"]]()
    return file_response(*exports.table_file(table, fmt))


# --------------------------------------------------------------------------- the pages


@require_perm(Perm.REWARDS_VIEW)
def mall_report(request: HttpRequest) -> HttpResponse:
    rows = reports.mall_by_reward()
    months = reports.mall_by_month()
    top = reports.top_rewards(rows)
    chart = {
        "top": {"names": [r["reward"].display for r in top], "quantity": [r["quantity"] for r in top]},
        "months": [m["month"] for m in months],
        "orders": [m["orders"] for m in months],
        "points": [m["points"] for m in months],
        "labels": {"orders": _("Orders"), "points": _("Points spent"), "quantity": _("Quantity")},
    }
    context = {
        "rows": rows,
        "months": months,
        "low": reports.low_stock(),
        "low_at": reports.LOW_STOCK,
        "totals": {
            "orders": sum(r["orders"] for r in rows),
            "quantity": sum(r["quantity"] for r in rows),
            "points": sum(r["points"] for r in rows),
        },
        "chart": chart,
    }
    return render(request, "rewards/mall_report.html", context)


@require_perm(Perm.REWARDS_VIEW)
def mall_export(request: HttpRequest) -> HttpResponse:
    return _download(request, MALL_TABLES)


@require_perm(Perm.COUPONS_VIEW)
def coupon_report(request: HttpRequest) -> HttpResponse:
    rows = reports.coupon_report()
    days = reports.uses_per_day()
    chart = {
        "days": [d["day"] for d in days],
        "redemptions": [d["redemptions"] for d in days],
        "discount": [str(d["discount"]) for d in days],
        "labels": {"redemptions": _("Redemptions"), "discount": _("Discount given")},
    }
    context = {
        "rows": rows,
        "totals": reports.coupon_totals(rows),
        "days": days,
        "span": reports.DAYS,
        "chart": chart,
    }
    return render(request, "rewards/coupon_report.html", context)


@require_perm(Perm.COUPONS_VIEW)
def coupon_export(request: HttpRequest) -> HttpResponse:
    return _download(request, COUPON_TABLES)
