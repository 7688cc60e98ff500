"""Console pages of the earning rules: the list with a preview against a sample basket, a new rule
(blank or from a preset), editing a rule, switching it on or off.

Views stay thin: parse a form, call one service, then render or redirect. A service's refusal
(`DomainError`) goes back onto the form or the page; it is never a server error. The preview calls
`services.quote`, which posts nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from patron.core import clock
from patron.core.errors import DomainError
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.views import form_page, safe_next
from patron.earning import engine, forms, presets, queries, services
from patron.earning.models import EarningRule
from patron.earning.rules import Combine, RuleConfig, RuleKind
from patron.members import services as members
from patron.members.models import Channel, Member

# Reading the rules and previewing a basket change nothing, and they answer what the till and the
# call centre are asked ("why did this sale earn so many points?"): so they need what seeing a
# member's points needs (POINTS_VIEW, which promoters do not have). Writing a rule changes what
# every sale earns, which is running the program (PROGRAM_MANAGE, as the program settings page).
VIEW_RULES = Perm.POINTS_VIEW
MANAGE_RULES = Perm.PROGRAM_MANAGE


def _rule(pk: int) -> EarningRule:
    return get_object_or_404(EarningRule, pk=pk)


def _config(rule: EarningRule) -> RuleConfig | None:
    """The rule's config, typed; None for a config only a hand edit of the table could have made."""
    try:
        return RuleConfig.model_validate(rule.config)
    except ValidationError:
        return None


def _local(at: dt.datetime) -> str:
    try:
        return f"{at.astimezone(clock.member_zone()):%Y-%m-%d %H:%M}"
    except OverflowError:  # a time at the calendar's edge (set through the API): as it was written
        return at.isoformat()


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --------------------------------------------------------------------------- how a rule reads in the list


def _gives(config: RuleConfig) -> str:
    if config.kind == RuleKind.BASE:
        rate = config.rate or Decimal(0)
        # ngettext counts in whole numbers: a rate of exactly 1 is singular, any other plural.
        said = ngettext("%(rate)s point per ¥1", "%(rate)s points per ¥1", 1 if rate == 1 else 2)
        return said % {"rate": _number(rate)}
    if config.kind == RuleKind.MULTIPLIER:
        return _("×%(factor)s the base points") % {"factor": _number(config.factor or Decimal(0))}
    points = config.points or 0
    return ngettext("+%(points)s point", "+%(points)s points", points) % {"points": points}


def _codes(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def _conditions(config: RuleConfig) -> list[str]:
    c = config.conditions
    channels = dict(Channel.choices)
    parts = [
        (c.stores, _("Stores: %(v)s"), _codes(c.stores)),
        (c.channels, _("Channels: %(v)s"), ", ".join(str(channels.get(x, x)) for x in c.channels)),
        (c.categories, _("Categories: %(v)s"), _codes(c.categories)),
        (c.skus, _("SKUs: %(v)s"), _codes(c.skus)),
        (c.days_of_week, _("Days: %(v)s"), ", ".join(str(WEEKDAYS_ABBR[d - 1]) for d in c.days_of_week)),
        (c.member_tags, _("Member tags (any): %(v)s"), _codes(c.member_tags)),
        (c.tiers, _("Tiers: %(v)s"), _codes(c.tiers)),
        (
            c.member_attributes,
            _("Member attributes: %(v)s"),
            ", ".join(f"{k}={v}" for k, v in c.member_attributes.items()),
        ),
        (c.min_spend is not None, _("Spend at least %(v)s"), _number(c.min_spend or Decimal(0))),
    ]
    said = [template % {"v": value} for present, template, value in parts if present]
    if c.date_range:
        ends = {"start": c.date_range.start or "…", "end": c.date_range.end or "…"}
        said.append(_("Dates: %(start)s to %(end)s") % ends)
    if c.time_window:
        said.append(
            _("Time: %(start)s–%(end)s")
            % {"start": f"{c.time_window.start:%H:%M}", "end": f"{c.time_window.end:%H:%M}"}
        )
    return said


def _caps(config: RuleConfig) -> list[str]:
    caps = config.caps
    limits = [
        (caps.per_transaction, _("%(n)s per transaction")),
        (caps.per_member_day, _("%(n)s per member a day")),
        (caps.per_member_month, _("%(n)s per member a month")),
    ]
    return [template % {"n": n} for n, template in limits if n is not None]


def _schedule(config: RuleConfig) -> str:
    if config.starts_at and config.ends_at:
        return _("%(start)s to %(end)s") % {"start": _local(config.starts_at), "end": _local(config.ends_at)}
    if config.starts_at:
        return _("From %(start)s") % {"start": _local(config.starts_at)}
    if config.ends_at:
        return _("Until %(end)s") % {"end": _local(config.ends_at)}
    return _("Always")


def _state(rule: EarningRule, config: RuleConfig | None, at: dt.datetime) -> str:
    """off, invalid, scheduled (starts later), ended, or live."""
    if config is None:
        return "invalid"
    if not rule.enabled:
        return "off"
    if config.starts_at and at < config.starts_at:
        return "scheduled"
    if config.ends_at and at >= config.ends_at:
        return "ended"
    return "live"


STATE_LABELS = {
    "live": gettext_lazy("Live"),
    "off": gettext_lazy("Off"),
    "scheduled": gettext_lazy("Scheduled"),
    "ended": gettext_lazy("Ended"),
    "invalid": gettext_lazy("Invalid config"),
}


@dataclass
class Row:
    rule: EarningRule
    config: RuleConfig | None
    state: str
    kind: str = ""
    gives: str = ""
    combine: str = ""
    conditions: list[str] = field(default_factory=list)
    caps: list[str] = field(default_factory=list)
    budget: tuple[int, int] | None = None  # (used, left)
    schedule: str = ""
    award: engine.Award | None = None  # what it gives the previewed basket

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def _row(rule: EarningRule, at: dt.datetime) -> Row:
    config = _config(rule)
    row = Row(rule, config, _state(rule, config, at))
    if config is None:
        return row
    row.kind = str(forms.KIND_LABELS[config.kind])
    row.gives = f"{_gives(config)} · {forms.POINT_TYPE_LABELS[config.point_type]}"
    if config.combine == Combine.BEST_OF:
        row.combine = _("best of group %(group)s") % {"group": config.group}
    row.conditions, row.caps, row.schedule = _conditions(config), _caps(config), _schedule(config)
    if config.budget is not None:
        left = queries.budget_left(rule)
        left = config.budget if left is None else left
        row.budget = (config.budget - left, left)
    return row


# --------------------------------------------------------------------------- the list and the preview


def _listed(state: str) -> list[EarningRule]:
    if state == "enabled":
        return list(queries.rules(enabled_only=True))
    rules = queries.rules()
    return list(rules.filter(enabled=False) if state == "disabled" else rules)


@dataclass
class Preview:
    quote: engine.Quote
    basket: engine.Basket
    member: Member | None

    @property
    def by_type(self) -> list[tuple[str, int]]:
        return [(_type_label(t), points) for t, points in self.quote.by_type.items()]

    @property
    def awards(self) -> list[tuple[engine.Award, str]]:
        return [(award, _type_label(award.point_type)) for award in self.quote.awards]


def _type_label(point_type: str) -> str:
    return str(forms.POINT_TYPE_LABELS.get(point_type, point_type))


def _render_list(
    request: HttpRequest,
    *,
    status: int = 200,
    preview_form: forms.PreviewForm | None = None,
    preview: Preview | None = None,
) -> HttpResponse:
    filter_form = forms.RuleFilterForm(request.GET if "state" in request.GET else None)
    state = filter_form.cleaned_data["state"] if filter_form.is_bound and filter_form.is_valid() else ""
    # In a preview, a rule's state is at the basket's time: a rule scheduled for then counts.
    at = preview.basket.at if preview else clock.now()
    rows = [_row(rule, at) for rule in _listed(state)]
    if preview:
        awards = {award.rule_id: award for award in preview.quote.awards}
        for row in rows:
            row.award = awards.get(row.rule.pk)
    context = {
        "rows": rows,
        "filter_form": filter_form,
        "state": state,
        "preview_form": preview_form or forms.PreviewForm(initial=forms.PreviewForm.default()),
        "preview": preview,
        "can_manage": has_perm(request.user, MANAGE_RULES),
        "back": request.get_full_path(),
    }
    return render(request, "earning/rules.html", context, status=status)


@require_perm(VIEW_RULES)
def rule_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _preview_member(member_no: str) -> Member | None:
    """The member the basket is for, found as the till finds them; None for an anonymous basket."""
    return members.find_member(member_no=member_no) if member_no.strip() else None


@require_perm(VIEW_RULES)
def preview(request: HttpRequest) -> HttpResponse:
    """What a sample basket would earn under the rules that are on, now as at the till (no posting)."""
    form = forms.PreviewForm(request.GET)
    if not form.is_valid():
        return _render_list(request, status=422, preview_form=form)
    try:
        member = _preview_member(form.cleaned_data["member_no"])
    except DomainError as exc:
        form.add_error("member_no", exc.message)
        return _render_list(request, status=422, preview_form=form)
    basket = form.basket()
    return _render_list(request, preview_form=form, preview=Preview(services.quote(member, basket), basket, member))


# --------------------------------------------------------------------------- new, edit, switch


@require_perm(MANAGE_RULES)
def rule_new(request: HttpRequest) -> HttpResponse:
    form = forms.RuleForm(request.POST or None)

    def save() -> str:
        rule = services.do_create_rule(name=form.cleaned_data["name"], config=form.config())
        messages.success(request, _("Rule “%(name)s” created.") % {"name": rule.name})
        return reverse("earning:list")

    return form_page(
        request, form, save, "earning/rule_form.html", show_error=form.show_service_error, title=_("New earning rule")
    )


@require_perm(MANAGE_RULES)
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(pk)
    config = _config(rule)
    form = forms.RuleEditForm(request.POST or None, initial=forms.RuleForm.initial_from(rule.name, config))

    def save() -> str:
        data = form.cleaned_data
        services.do_update_rule(rule=rule, name=data["name"], config=form.config(), reason=data["reason"])
        messages.success(request, _("Rule “%(name)s” saved.") % {"name": data["name"]})
        return reverse("earning:list")

    return form_page(
        request,
        form,
        save,
        "earning/rule_form.html",
        show_error=form.show_service_error,
        title=_("Earning rule “%(name)s”") % {"name": rule.name},
        rule=rule,
        row=_row(rule, clock.now()),
        invalid_config=config is None,
        back=reverse("earning:edit", args=[rule.pk]),
    )


def _preset_forms(bound: forms.PresetForm | None = None) -> list[forms.PresetForm]:
    return [
        bound if bound is not None and bound.preset.key == key else forms.PresetForm(preset=preset)
        for key, preset in presets.PRESETS.items()
    ]


@require_perm(MANAGE_RULES)
def preset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "earning/presets.html", {"preset_forms": _preset_forms()})


@require_perm(MANAGE_RULES)
@require_POST
def rule_from_preset(request: HttpRequest, key: str) -> HttpResponse:
    preset = presets.PRESETS.get(key)
    if preset is None:
        raise Http404(key)
    form = forms.PresetForm(request.POST, preset=preset)

    def save() -> str:
        name = form.cleaned_data["name"].strip() or None
        rule = services.do_create_rule_from_preset(preset_key=key, params=form.params(), name=name)
        messages.success(request, _("Rule “%(name)s” created from a preset. Check it and save.") % {"name": rule.name})
        return reverse("earning:edit", args=[rule.pk])

    return form_page(
        request,
        form,
        save,
        "earning/presets.html",
        show_error=form.show_service_error,
        preset_forms=_preset_forms(form),
    )


@require_perm(MANAGE_RULES)
@require_POST
def rule_switch(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch a rule on or off: it applies, or stops applying, from the next quote on."""
    rule = _rule(pk)
    form = forms.SwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say whether to switch the rule on or off."))
    else:
        enabled = form.cleaned_data["enabled"]
        try:
            services.do_set_rule_enabled(rule=rule, enabled=enabled, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            done = _("Rule “%(name)s” switched on.") if enabled else _("Rule “%(name)s” switched off.")
            messages.success(request, done % {"name": rule.name})
    return redirect(safe_next(request, reverse("earning:list")))
