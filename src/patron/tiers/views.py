"""Console pages of the member tiers: the tier models (list, new, from a preset, the editor of a
draft, copy, go live), the distribution report, and a member's tier (the member page's section,
the member's tier page, the manual override).

Views stay thin: parse a form, call one service, then render or redirect. A service's refusal
(`DomainError`) goes back onto the form or the page; it is never a server error. The member page's
tier section and the timeline's sentences are added through `members.queries` (see `apps.py`), so
the member registry never imports the tiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from patron.core.context import current_actor
from patron.core.errors import DomainError
from patron.core.forms import show_domain_error
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.types import yuan
from patron.core.views import form_page, fragment, is_htmx, safe_next
from patron.members.models import Member
from patron.members.queries import register_360_section, register_timeline_sentence
from patron.tiers import forms, presets, queries, services
from patron.tiers.config import ReviewKind, TierModelConfig, TierSpec, WindowKind, metric_label
from patron.tiers.models import ModelStatus, TierChange, TierModel

VIEW = Perm.TIERS_VIEW
MANAGE = Perm.TIERS_MANAGE
OVERRIDE = Perm.TIERS_OVERRIDE
SECTION_HISTORY = 5  # tier changes shown on the member page
PAGE_HISTORY = 50  # and on the member's tier page
STATUS_ORDER: dict[str, int] = {ModelStatus.LIVE: 0, ModelStatus.DRAFT: 1, ModelStatus.RETIRED: 2}
NEW_MODEL_ROWS = 3  # empty tier rows of a blank model
EDIT_EXTRA_ROWS = 1  # and of a draft being edited


def _require(request: HttpRequest, perm: Perm) -> None:
    if not has_perm(request.user, perm):
        raise DjangoDenied(perm)


def _model(pk: int) -> TierModel:
    return get_object_or_404(TierModel, pk=pk)


def _member(pk: int) -> Member:
    return get_object_or_404(Member, pk=pk)


def _parsed(model: TierModel) -> TierModelConfig | None:
    """The model's config, typed; None for a config only a hand edit of the table could have made."""
    try:
        return model.parsed()
    except ValidationError:
        return None


def _language() -> str:
    return get_language() or "zh-hans"


def _display(tier: TierSpec) -> str:
    return tier.display(_language())


# --------------------------------------------------------------------------- how a model reads


def window_text(config: TierModelConfig) -> str:
    window = config.window
    if window.kind == WindowKind.ROLLING:
        months = window.months or 0
        return ngettext("Over the last %(n)s month", "Over the last %(n)s months", months) % {"n": months}
    if window.kind == WindowKind.SINCE_JOINING:
        return _("Since joining")
    return _("Over the calendar year")


def review_text(config: TierModelConfig) -> str:
    review = config.review
    if review.kind == ReviewKind.FIXED_DATE:
        return _("Reviewed every year on %(date)s") % {"date": f"{review.month:02d}-{review.day:02d}"}
    if review.kind == ReviewKind.EVERY_N_MONTHS:
        months = review.months or 0
        return ngettext("Reviewed every %(n)s month", "Reviewed every %(n)s months", months) % {"n": months}
    return _("Reviewed on the tier's anniversary")


def threshold_text(tier: TierSpec) -> str:
    """What a tier asks for: "spend ¥2,000.00 or 12 purchase days"."""
    parts = []
    for metric, value in tier.qualify.thresholds().items():
        if metric == "spend":
            parts.append(_("spend %(amount)s") % {"amount": yuan(value)})
        elif metric == "purchase_days":
            parts.append(ngettext("%(n)s purchase day", "%(n)s purchase days", int(value)) % {"n": value})
        else:
            parts.append(ngettext("%(n)s qualifying point", "%(n)s qualifying points", int(value)) % {"n": value})
    if not parts:
        return _("Everyone starts here")
    return (_(" or ") if tier.qualify.combine == "any" else _(" and ")).join(parts)


@dataclass
class ModelRow:
    model: TierModel
    config: TierModelConfig | None

    @property
    def tiers(self) -> list[tuple[TierSpec, str]]:
        return [(tier, _display(tier)) for tier in self.config.tiers] if self.config else []

    @property
    def window(self) -> str:
        return window_text(self.config) if self.config else ""

    @property
    def review(self) -> str:
        return review_text(self.config) if self.config else ""


def _rows() -> list[ModelRow]:
    models = sorted(queries.models(), key=lambda m: (STATUS_ORDER.get(m.status, 3), -m.pk))
    return [ModelRow(m, _parsed(m)) for m in models]


# --------------------------------------------------------------------------- the list, new, presets


@require_perm(VIEW)
def model_list(request: HttpRequest) -> HttpResponse:
    context = {"rows": _rows(), "can_manage": has_perm(request.user, MANAGE)}
    return render(request, "tiers/models.html", context)


NEW_DEFAULTS: dict[str, Any] = {
    "window_kind": WindowKind.CALENDAR_YEAR,
    "review_kind": ReviewKind.FIXED_DATE,
    "review_month": 1,
    "review_day": 1,
    "downgrade": "one_level",
    "grace_days": 0,
    "at_risk_days": 30,
    "refund_reverts_upgrade": True,
}


@require_perm(MANAGE)
def model_new(request: HttpRequest) -> HttpResponse:
    form = forms.TierModelForm(request.POST or None, initial=NEW_DEFAULTS, extra=NEW_MODEL_ROWS)

    def save() -> str:
        model = services.do_create_model(name=form.cleaned_data["name"], config=form.config())
        messages.success(request, _("Tier model “%(name)s” created as a draft.") % {"name": model.name})
        return reverse("tiers:edit", args=[model.pk])

    return form_page(
        request, form, save, "tiers/editor.html", show_error=form.show_service_error, title=_("New blank tier model")
    )


@dataclass
class PresetCard:
    preset: presets.Preset
    form: forms.NewFromPresetForm

    @property
    def config(self) -> TierModelConfig:
        return TierModelConfig.model_validate(self.preset.config)

    @property
    def tiers(self) -> list[tuple[TierSpec, str, str]]:
        return [(tier, _display(tier), threshold_text(tier)) for tier in self.config.tiers]

    @property
    def window(self) -> str:
        return window_text(self.config)

    @property
    def review(self) -> str:
        return review_text(self.config)


def _preset_cards(bound: PresetCard | None = None) -> list[PresetCard]:
    return [
        bound
        if bound is not None and bound.preset.key == key
        else PresetCard(preset, forms.NewFromPresetForm(prefix=key))
        for key, preset in presets.PRESETS.items()
    ]


@require_perm(MANAGE)
def preset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tiers/presets.html", {"cards": _preset_cards()})


@require_perm(MANAGE)
@require_POST
def model_from_preset(request: HttpRequest, key: str) -> HttpResponse:
    preset = presets.get(key)
    if preset is None:
        raise Http404(key)
    form = forms.NewFromPresetForm(request.POST, prefix=key)

    def save() -> str:
        model = services.do_create_model_from_preset(preset=key, name=form.cleaned_data["name"].strip())
        messages.success(
            request, _("Tier model “%(name)s” created from a preset. Check it and save.") % {"name": model.name}
        )
        return reverse("tiers:edit", args=[model.pk])

    return form_page(request, form, save, "tiers/presets.html", cards=_preset_cards(PresetCard(preset, form)))


# --------------------------------------------------------------------------- the editor


def _editor_context(request: HttpRequest, model: TierModel, **overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "model": model,
        "title": _("Tier model “%(name)s”") % {"name": model.name},
        "is_draft": model.status == ModelStatus.DRAFT,
        "can_manage": has_perm(request.user, MANAGE),
        "invalid_config": _parsed(model) is None,
        "go_live_form": forms.GoLiveForm(),
        "copy_form": forms.CopyForm(),
        "live": queries.live_model_row(),
    }
    context.update(overrides)
    return context


def _editor_form(request: HttpRequest, model: TierModel, *, bound: bool) -> forms.TierModelForm:
    """The editor of the model as stored (bound to the POST when `bound`); read-only unless the
    model is a draft and the reader may manage tiers."""
    config = model.config if _parsed(model) is not None else {}
    return forms.TierModelForm(
        request.POST if bound else None,
        initial=forms.TierModelForm.initial_from(model.name, config),
        tiers=list(config.get("tiers") or []),
        extra=EDIT_EXTRA_ROWS,
        read_only=model.status != ModelStatus.DRAFT or not has_perm(request.user, MANAGE),
    )


@require_perm(VIEW)
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft's editor; a live or retired model (or a reader without TIERS_MANAGE) sees it read-only."""
    model = _model(pk)
    if request.method == "POST":
        _require(request, MANAGE)
    form = _editor_form(request, model, bound=request.method == "POST")

    def save() -> str:
        saved = services.do_update_model(model=model, name=form.cleaned_data["name"], config=form.config())
        messages.success(request, _("Tier model “%(name)s” saved.") % {"name": saved.name})
        return reverse("tiers:edit", args=[saved.pk])

    return form_page(
        request, form, save, "tiers/editor.html", show_error=form.show_service_error, **_editor_context(request, model)
    )


@require_perm(MANAGE)
@require_POST
def model_copy(request: HttpRequest, pk: int) -> HttpResponse:
    model = _model(pk)
    form = forms.CopyForm(request.POST)
    name = form.cleaned_data["name"].strip() if form.is_valid() else ""
    try:
        copy = services.do_copy_model(model=model, name=name)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("tiers:edit", pk=model.pk)
    messages.success(request, _("Draft “%(name)s” made: edit it, then make it live.") % {"name": copy.name})
    return redirect("tiers:edit", pk=copy.pk)


@require_perm(MANAGE)
@require_POST
def model_go_live(request: HttpRequest, pk: int) -> HttpResponse:
    """Make a draft the live model; every member is re-evaluated under it in the background."""
    model = _model(pk)
    go_live_form = forms.GoLiveForm(request.POST)
    if go_live_form.is_valid():
        try:
            services.do_go_live(model=model, reason=go_live_form.cleaned_data["reason"])
        except DomainError as exc:
            show_domain_error(go_live_form, exc)
        else:
            messages.success(
                request,
                _("“%(name)s” is live. Members are being re-evaluated under it in the background.")
                % {"name": model.name},
            )
            return redirect("tiers:list")
    model.refresh_from_db()
    form = _editor_form(request, model, bound=False)
    context = _editor_context(request, model, form=form, go_live_form=go_live_form)
    return render(request, "tiers/editor.html", context, status=422)


# --------------------------------------------------------------------------- the report


@require_perm(VIEW)
def report(request: HttpRequest) -> HttpResponse:
    live = services.live_model()
    now = queries.distribution()
    months = queries.distribution_over_time(12)
    total = sum(row["members"] for row in now)
    rows = [{**row, "share": (row["members"] * 100 / total) if total else 0} for row in now]
    tiers = list(live.config.tiers) if live else []
    chart = {
        "now": {
            "names": [row["name"] for row in now],
            "colors": [row["color"] for row in now],
            "members": [row["members"] for row in now],
        },
        "months": [row["month"] for row in months],
        "series": [
            {"name": _display(tier), "color": tier.color, "data": [row["tiers"].get(tier.code, 0) for row in months]}
            for tier in tiers
        ],
    }
    context = {
        "live": queries.live_model_row(),
        "rows": rows,
        "total": total,
        "months": months,
        "month_rows": [(row["month"], [row["tiers"].get(t.code, 0) for t in tiers]) for row in months],
        "tiers": tiers,
        "chart": chart,
    }
    return render(request, "tiers/report.html", context)


# --------------------------------------------------------------------------- a member's tier


def _tier_of(code: str) -> TierSpec | None:
    live = services.live_model()
    if live is None or code not in live.config.codes:
        return None
    return live.config.tiers[live.config.level_of(code)]


def tier_name(code: str) -> str:
    """A tier code in the page's language by the live model; a code it does not know, as it is."""
    tier = _tier_of(code)
    return _display(tier) if tier is not None else code


def reason_label(reason: str) -> str:
    return str(forms.REASON_LABELS.get(reason, reason))


def _need_text(need: queries.Need) -> str:
    missing = need.missing
    if need.metric == "spend":
        return _("spend %(amount)s more") % {"amount": yuan(missing)}
    n = int(missing)
    if need.metric == "purchase_days":
        return ngettext("%(n)s more purchase day", "%(n)s more purchase days", n) % {"n": n}
    return ngettext("%(n)s more qualifying point", "%(n)s more qualifying points", n) % {"n": n}


def _value_text(metric: str, value: Decimal | int) -> str:
    return yuan(value) if metric == "spend" else str(value)


def goal_sentence(goal: queries.Goal, *, keep: bool) -> str:
    """ "Spend ¥1,200.00 more by 2026-12-31 to keep 金卡", or that the member already qualifies."""
    tier = _display(goal.tier)
    if goal.met:
        return (_("Already qualifies to keep %(tier)s.") if keep else _("Qualifies for %(tier)s.")) % {"tier": tier}
    short = [need for need in goal.needs if need.missing]
    needs = (_(" or ") if goal.combine == "any" else _(" and ")).join(_need_text(n) for n in short)
    values = {"needs": needs, "tier": tier, "by": goal.by.isoformat() if goal.by else ""}
    if keep:
        said = _("%(needs)s by %(by)s to keep %(tier)s") if goal.by else _("%(needs)s to keep %(tier)s")
    else:
        said = _("%(needs)s by %(by)s to reach %(tier)s") if goal.by else _("%(needs)s to reach %(tier)s")
    return _capitalized(said % values)


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass
class GoalView:
    kind: str  # next or keep
    goal: queries.Goal
    sentence: str
    bars: list[dict[str, Any]]


def _goal_view(goal: queries.Goal | None, kind: str) -> GoalView | None:
    if goal is None:
        return None
    bars = [
        {
            "metric": need.metric,
            "label": _capitalized(metric_label(need.metric)),
            "have": _value_text(need.metric, need.have),
            "target": _value_text(need.metric, need.target),
            "percent": need.percent,
        }
        for need in goal.needs
    ]
    return GoalView(kind, goal, goal_sentence(goal, keep=kind == "keep"), bars)


@dataclass
class HistoryRow:
    change: TierChange
    before: str
    after: str
    reason: str
    note: str


def _history(member: Member, limit: int) -> list[HistoryRow]:
    rows = []
    for change in queries.history(member, limit):
        note = str((change.detail or {}).get("reason", ""))
        rows.append(
            HistoryRow(
                change, tier_name(change.from_code), tier_name(change.to_code), reason_label(change.reason), note
            )
        )
    return rows


def _tier_choices() -> list[tuple[str, str]]:
    live = services.live_model()
    return [(t.code, _display(t)) for t in live.config.tiers] if live else []


def tier_context(member: Member, *, user: Any, history: int, **overrides: Any) -> dict[str, Any]:
    """What the member page's section and the member's tier page show."""
    view = queries.member_tier(member)
    progress = queries.progress(member) if view is not None else None
    context: dict[str, Any] = {
        "m": member,
        "view": view,
        "tier_name": _display(view.tier) if view else "",
        "rules_name": _display(view.rules_tier) if view else "",
        "floor_name": _display(view.lifetime_floor) if view and view.lifetime_floor else "",
        "overridden": bool(view and view.override_until),
        "rules_differ": bool(view and view.rules_tier.code != view.tier.code),
        "goals": [g for g in (_goal_view(progress.next, "next"), _goal_view(progress.keep, "keep")) if g]
        if progress
        else [],
        "history": _history(member, history),
        "can_override": has_perm(user, OVERRIDE) and view is not None,
        "override_form": forms.OverrideForm(tiers=_tier_choices()),
        "end_form": forms.EndOverrideForm(),
        "back": reverse("members:detail", args=[member.pk]),
    }
    context.update(overrides)
    return context


def register_member_section() -> None:
    """Called from the app's `ready()`. The section's name is its heading on the member page, so it
    is translated when the page is drawn."""
    register_360_section(cast(str, gettext_lazy("Tier")), tier_section)


def tier_section(member: Member) -> dict[str, Any]:
    """The member 360 page's tier section: the tier shown with its badge, since when, the next review,
    the rules' tier under an override, the lifetime floor, progress, recent history, the override.

    The 360 view renders each entry as a term and its value. Who is looking comes from the
    request's actor (the hook passes the member alone)."""
    user = current_actor().user
    if not has_perm(user, VIEW):
        return {}
    context = tier_context(member, user=user, history=SECTION_HISTORY)
    view = context["view"]
    if view is None:
        return {_("Tier"): _("No tier model is live yet.")}
    section: dict[str, Any] = {
        _("Tier"): fragment("tiers/_badge_line.html", context),
        _("Since"): view.since.isoformat() if view.since else "—",
        _("Next review"): fragment("tiers/_review.html", context),
    }
    if context["rules_differ"]:
        section[_("By the rules")] = fragment("tiers/_rules_tier.html", context)
    if view.lifetime_floor is not None:
        section[_("Lifetime floor")] = context["floor_name"]
    section[_("Progress")] = fragment("tiers/_progress.html", context)
    section[_("History")] = fragment("tiers/_history.html", context)
    if context["can_override"]:
        section[_("Override")] = fragment("tiers/_override.html", context)
    section[""] = fragment("tiers/_section_link.html", context)
    return section


def _render_member(request: HttpRequest, member: Member, status: int = 200, **overrides: Any) -> HttpResponse:
    context = tier_context(member, user=request.user, history=PAGE_HISTORY, **overrides)
    return render(request, "tiers/member.html", context, status=status)


@require_perm(VIEW)
def member_tier(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_member(request, _member(pk))


def _override_done(request: HttpRequest, member: Member) -> HttpResponse:
    target = safe_next(request, reverse("members:detail", args=[member.pk]))
    if is_htmx(request):  # the member page's section posts through htmx
        return HttpResponse(headers={"HX-Redirect": target})
    return redirect(target)


def _override_refused(request: HttpRequest, member: Member, **forms_: Any) -> HttpResponse:
    if is_htmx(request):  # the section's forms again, with their errors, in place
        context = tier_context(member, user=request.user, history=0, **forms_)
        context["back"] = safe_next(request, context["back"])
        return HttpResponse(render_to_string("tiers/_override.html", context, request=request), status=422)
    return _render_member(request, member, status=422, **forms_)


@require_perm(OVERRIDE)
@require_POST
def set_override(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the member another tier until a date, whatever the rules say."""
    member = _member(pk)
    form = forms.OverrideForm(request.POST, tiers=_tier_choices())
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.do_set_override(
                member=member, tier_code=data["tier"], until=form.until_at(), reason=data["reason"]
            )
        except DomainError as exc:
            show_domain_error(form, exc)
        else:
            values = {"tier": tier_name(data["tier"]), "until": data["until"].isoformat()}
            messages.success(request, _("The member shows %(tier)s until %(until)s.") % values)
            return _override_done(request, member)
    return _override_refused(request, member, override_form=form)


@require_perm(OVERRIDE)
@require_POST
def end_override(request: HttpRequest, pk: int) -> HttpResponse:
    """End the member's override now: they land where the rules put them."""
    member = _member(pk)
    form = forms.EndOverrideForm(request.POST)
    if form.is_valid():
        try:
            row = services.do_end_override(member=member, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            show_domain_error(form, exc)
        else:
            messages.success(
                request, _("Override ended: the member is at %(tier)s.") % {"tier": tier_name(row.tier_code)}
            )
            return _override_done(request, member)
    return _override_refused(request, member, end_form=form)


# --------------------------------------------------------------------------- the timeline


def _sentence_changed(d: dict[str, Any]) -> str:
    return _("Tier changed from %(before)s to %(after)s (%(reason)s).") % {
        "before": tier_name(str(d.get("before", ""))),
        "after": tier_name(str(d.get("after", ""))),
        "reason": reason_label(str(d.get("reason", ""))),
    }


def _sentence_at_risk(d: dict[str, Any]) -> str:
    return _("At risk: moves from %(tier)s to %(would_be)s at the review on %(review_on)s unless they qualify.") % {
        "tier": tier_name(str(d.get("tier", ""))),
        "would_be": tier_name(str(d.get("would_be", ""))),
        "review_on": d.get("review_on", ""),
    }


def register_timeline_sentences() -> None:
    """How the member timeline words the tiers' entries (in the reader's language)."""
    register_timeline_sentence("tier_changed", _sentence_changed)
    register_timeline_sentence("tier_at_risk", _sentence_at_risk)
