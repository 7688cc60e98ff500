"""Console pages of the tier simulator: start a simulation, watch it run, read and export its result,
compare two side by side. Starting one queues the background task (`services.do_start_simulation`);
the pages only read saved results, so a result stays as it was when the model later changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.forms import show_domain_error
from patron.core.permissions import Perm, require_perm
from patron.tiers import exports, queries, services
from patron.tiers.models import Simulation, SimulationStatus, TierModel

SIMULATE = Perm.TIERS_SIMULATE

BASELINES = [
    ("live", gettext_lazy("The live model over the same period")),
    ("previous", gettext_lazy("This model over the period before")),
    ("none", gettext_lazy("None")),
]


def _last_year() -> tuple[dt.date, dt.date]:
    year = clock.local_today().year - 1
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


class SimulationForm(forms.Form):
    model = forms.ModelChoiceField(queryset=TierModel.objects.none(), label=gettext_lazy("Tier model"))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    first = forms.DateField(
        label=gettext_lazy("Period from"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    last = forms.DateField(
        label=gettext_lazy("Period to"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    baseline = forms.ChoiceField(label=gettext_lazy("Compare with"), choices=BASELINES, initial="live")
    backtest_first = forms.DateField(
        label=gettext_lazy("Backtest from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    backtest_last = forms.DateField(
        label=gettext_lazy("Backtest to"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = queries.models()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("backtest_first")) != bool(data.get("backtest_last")):
            raise forms.ValidationError(_("A backtest needs both its first and its last day."))
        return data


@require_perm(SIMULATE)
def simulation_list(request: HttpRequest) -> HttpResponse:
    first, last = _last_year()
    initial: dict[str, Any] = {"first": first, "last": last}
    if request.GET.get("model"):
        initial["model"] = request.GET["model"]
    form = SimulationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        backtest = (data["backtest_first"], data["backtest_last"]) if data.get("backtest_first") else None
        try:
            simulation = services.do_start_simulation(
                model=data["model"],
                first=data["first"],
                last=data["last"],
                baseline=data["baseline"],
                backtest=backtest,
                name=data["name"],
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            return redirect("tiers_sim:simulation", pk=simulation.pk)
    return render(
        request,
        "tiers/simulations/list.html",
        {"form": form, "simulations": queries.simulations()[:50]},
        status=422 if request.method == "POST" else 200,
    )


def _name(row: dict[str, Any]) -> str:
    return row["name"] if (get_language() or "zh-hans").startswith("zh") else row["name_en"]


def _charts(simulation: Simulation) -> dict[str, Any]:
    """What the page's charts draw: the tier mix and the migration heat map."""
    result = simulation.result or {}
    tiers = result.get("tiers", [])
    matrix = result.get("matrix", {})
    cells = [[j, i, value] for i, row in enumerate(matrix.get("cells", [])) for j, value in enumerate(row)]
    return {
        "names": [_name(t) for t in tiers],
        "colors": [t["color"] for t in tiers],
        "members": [t["members"] for t in tiers],
        "rows": matrix.get("rows", []),
        "cols": matrix.get("cols", []),
        "cells": cells,
        "max": max((c[2] for c in cells), default=0),
    }


def _view(simulation: Simulation) -> dict[str, Any]:
    result = simulation.result or {}
    tiers = [{**row, "display": _name(row), "percent": round(row["share"] * 100, 1)} for row in result.get("tiers", [])]
    matrix = result.get("matrix", {})
    rows = [
        {"code": code, "cells": cells}
        for code, cells in zip(matrix.get("rows", []), matrix.get("cells", []), strict=False)
    ]
    return {
        "simulation": simulation,
        "summary": result.get("summary", {}),
        "tiers": tiers,
        "matrix_cols": matrix.get("cols", []),
        "matrix_rows": rows,
        "backtest": result.get("backtest"),
        "chart": _charts(simulation),
        "running": simulation.status in (SimulationStatus.QUEUED, SimulationStatus.RUNNING),
    }


@require_perm(SIMULATE)
def simulation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    simulation = get_object_or_404(queries.simulations(), pk=pk)
    context = _view(simulation)
    context["others"] = queries.simulations().filter(status=SimulationStatus.DONE).exclude(pk=pk)[:30]
    if request.headers.get("HX-Request"):  # the progress poll: the bar while it runs, then the page
        if context["running"]:
            return render(request, "tiers/simulations/_progress.html", context)
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "tiers/simulations/detail.html", context)


@require_perm(SIMULATE)
def simulation_export(request: HttpRequest, pk: int) -> HttpResponse:
    simulation = get_object_or_404(Simulation, pk=pk, status=SimulationStatus.DONE)
    response = HttpResponse(exports.simulation_xlsx(simulation), content_type=exports.XLSX)
    response["Content-Disposition"] = f'attachment; filename="tier-simulation-{simulation.pk}.xlsx"'
    return response


@require_perm(SIMULATE)
def simulation_compare(request: HttpRequest) -> HttpResponse:
    done = queries.simulations().filter(status=SimulationStatus.DONE)
    try:
        a, b = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
    except ValueError:
        return render(request, "tiers/simulations/compare.html", {"pair": None, "choices": done[:50]}, status=400)
    pair = [_view(get_object_or_404(done, pk=a)), _view(get_object_or_404(done, pk=b))]
    return render(request, "tiers/simulations/compare.html", {"pair": pair, "choices": done[:50]})
