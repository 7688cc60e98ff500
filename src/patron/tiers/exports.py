"""A simulation's result as an Excel workbook: the tier mix with cost, the migration matrix and,
for a backtest, the second period."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import openpyxl
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from patron.tiers.models import Simulation

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _name(row: dict[str, Any]) -> str:
    return row["name"] if (get_language() or "zh-hans").startswith("zh") else row["name_en"]


def simulation_xlsx(simulation: Simulation) -> bytes:
    result = simulation.result or {}
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Tiers")[:31]
    summary = result.get("summary", {})
    sheet.append([_("Simulation"), simulation.name])
    sheet.append([_("Period"), " – ".join(summary.get("period", []))])
    sheet.append([_("Members"), summary.get("members", 0)])
    sheet.append([_("Upgrades"), summary.get("upgrades", 0), _("Downgrades"), summary.get("downgrades", 0)])
    sheet.append([])
    sheet.append(
        [
            _("Tier"),
            _("Members"),
            _("Share"),
            _("Revenue"),
            _("Spend per member"),
            _("Upgrades into"),
            _("Downgrades into"),
            _("Just below (within 10%)"),
            _("Extra points from multiplier"),
            _("Multiplier cost"),
            _("Birthday gifts"),
            _("Free services"),
            _("Total cost"),
            _("Cost per member"),
        ]
    )
    for row in result.get("tiers", []):
        cost = row["cost"]
        sheet.append(
            [
                _name(row),
                row["members"],
                row["share"],
                Decimal(row["revenue"]),
                Decimal(row["spend_per_member"]),
                row["upgrades_into"],
                row["downgrades_into"],
                row["just_below"],
                cost["multiplier_points"],
                Decimal(cost["multiplier"]),
                Decimal(cost["birthday"]),
                Decimal(cost["services"]),
                Decimal(cost["total"]),
                Decimal(cost["per_member"]),
            ]
        )
    matrix = result.get("matrix", {})
    if matrix.get("cells"):
        grid = book.create_sheet(_("Migration")[:31])
        grid.append([_("from \\ to"), *matrix["cols"]])
        for code, cells in zip(matrix["rows"], matrix["cells"], strict=True):
            grid.append([code, *cells])
    backtest = result.get("backtest")
    if backtest:
        second = book.create_sheet(_("Backtest")[:31])
        second.append([_("Period"), " – ".join(backtest["period"])])
        second.append(
            [_("Tier at the end of the first period"), _("Members"), _("Kept"), _("Up"), _("Down"), _("Revenue")]
        )
        for row in backtest["tiers"]:
            second.append([row["code"], row["members"], row["kept"], row["up"], row["down"], Decimal(row["revenue_b"])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
