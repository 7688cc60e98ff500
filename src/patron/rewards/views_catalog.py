"""Console pages of the points mall's catalog (rewards, their stock and partner codes, categories)
and of badges. See `views.py` for what the pages share."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from patron.core.errors import DomainError
from patron.core.permissions import Perm, has_perm, require_perm
from patron.core.views import form_page, page_number, query_without_page
from patron.members.queries import paginate
from patron.rewards import forms, services
from patron.rewards.models import Badge, PartnerCode, Reward, RewardCategory, RewardKind
from patron.rewards.views import LIST_PAGE, holder, require

VIEW = Perm.REWARDS_VIEW
MANAGE = Perm.REWARDS_MANAGE
RECENT_ORDERS = 10


def _reward(pk: int) -> Reward:
    return get_object_or_404(Reward.objects.select_related("category", "coupon_batch"), pk=pk)


# --------------------------------------------------------------------------- rewards


@require_perm(VIEW)
def reward_list(request: HttpRequest) -> HttpResponse:
    form = forms.RewardFilterForm(request.GET or None)
    rewards = Reward.objects.select_related("category", "coupon_batch").filter(**form.filters())
    page = paginate(rewards, page_number(request), LIST_PAGE)
    context = {
        "form": form,
        "page": page,
        "query": query_without_page(request),
        "can_manage": has_perm(request.user, MANAGE),
    }
    return render(request, "rewards/reward_list.html", context)


@require_perm(MANAGE)
def reward_new(request: HttpRequest) -> HttpResponse:
    form = forms.RewardForm(request.POST or None, request.FILES or None)

    def save() -> str:
        reward = services.do_create_reward(
            code=form.cleaned_data["code"], stores=form.chosen_stores() or [], **form.values()
        )
        messages.success(request, _("Reward “%(name)s” created.") % {"name": reward.name})
        return reverse("rewards:detail", args=[reward.pk])

    return form_page(
        request,
        form,
        save,
        "rewards/reward_form.html",
        show_error=lambda exc: forms.put_error(form, exc),
        title=_("New reward"),
    )


@require_perm(MANAGE)
def reward_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reward = _reward(pk)
    form = forms.RewardForm(request.POST or None, request.FILES or None, reward=reward)

    def save() -> str:
        saved = services.do_update_reward(reward=reward, stores=form.chosen_stores(), **form.values())
        messages.success(request, _("Reward “%(name)s” saved.") % {"name": saved.name})
        return reverse("rewards:detail", args=[saved.pk])

    return form_page(
        request,
        form,
        save,
        "rewards/reward_form.html",
        show_error=lambda exc: forms.put_error(form, exc),
        title=_("Reward “%(name)s”") % {"name": reward.name},
        reward=reward,
    )


def _detail(request: HttpRequest, reward: Reward, status: int = 200, **overrides: Any) -> HttpResponse:
    orders = reward.orders.select_related("member").order_by("-placed_at", "-id")[:RECENT_ORDERS]
    codes = PartnerCode.objects.filter(reward=reward)
    context: dict[str, Any] = {
        "reward": reward,
        "stores": list(reward.stores.order_by("code")),
        "orders": [(order, holder(order.member)) for order in orders],
        "is_partner": reward.kind == RewardKind.PARTNER,
        "codes_free": codes.filter(order__isnull=True).count() if reward.kind == RewardKind.PARTNER else 0,
        "codes_all": codes.count() if reward.kind == RewardKind.PARTNER else 0,
        "can_manage": has_perm(request.user, MANAGE),
        "can_redeem": has_perm(request.user, Perm.REWARDS_REDEEM),
        "stock_form": forms.StockForm(),
        "codes_form": forms.PartnerCodesForm(),
    }
    context.update(overrides)
    return render(request, "rewards/reward_detail.html", context, status=status)


@require_perm(VIEW)
def reward_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _reward(pk))


@require_perm(VIEW)
def reward_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The reward's picture, served by its real type (there is no public media URL on an intranet)."""
    reward = _reward(pk)
    if not reward.image:
        raise Http404("no image")
    try:
        handle = reward.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404("image missing") from exc
    head = handle.read(16)
    handle.seek(0)
    kind = forms.IMAGE_TYPES.get(forms.image_extension(head) or "")
    if kind is None:
        handle.close()
        raise Http404("not an image")
    response: HttpResponse = FileResponse(handle, content_type=kind)  # type: ignore[assignment]
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_perm(MANAGE)
@require_POST
def adjust_stock(request: HttpRequest, pk: int) -> HttpResponse:
    reward = _reward(pk)
    form = forms.StockForm(request.POST)
    if form.is_valid():
        try:
            saved = services.do_adjust_stock(
                reward=reward, delta=form.cleaned_data["delta"], reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            messages.success(
                request,
                _("Stock changed by %(delta)+d: %(stock)s now.")
                % {
                    "delta": form.cleaned_data["delta"],
                    "stock": saved.stock,
                },
            )
            return redirect("rewards:detail", pk=reward.pk)
    return _detail(request, reward, status=422, stock_form=form)


@require_perm(MANAGE)
@require_POST
def add_codes(request: HttpRequest, pk: int) -> HttpResponse:
    reward = _reward(pk)
    form = forms.PartnerCodesForm(request.POST)
    if form.is_valid():
        try:
            added = services.do_add_partner_codes(reward=reward, lines=form.lines())
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            messages.success(
                request,
                ngettext("%(n)s code added to the pool.", "%(n)s codes added to the pool.", added) % {"n": added},
            )
            return redirect("rewards:detail", pk=reward.pk)
    return _detail(request, reward, status=422, codes_form=form)


# --------------------------------------------------------------------------- categories


@require_perm(VIEW)
def category_list(request: HttpRequest) -> HttpResponse:
    """The categories, and a form to add one (those who manage the catalog post it here)."""
    if request.method == "POST":
        require(request, MANAGE)
    form = forms.CategoryForm(request.POST or None)

    def save() -> str:
        category = services.do_save_category(**form.values())
        messages.success(request, _("Category “%(name)s” saved.") % {"name": category.name})
        return reverse("rewards:categories")

    categories = RewardCategory.objects.annotate(n=Count("rewards"))
    return form_page(
        request,
        form,
        save,
        "rewards/category_list.html",
        categories=categories,
        can_manage=has_perm(request.user, MANAGE),
    )


@require_perm(MANAGE)
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    category = get_object_or_404(RewardCategory, pk=pk)
    form = forms.CategoryForm(request.POST or None, category=category)

    def save() -> str:
        services.do_save_category(**form.values())
        messages.success(request, _("Category “%(name)s” saved.") % {"name": form.cleaned_data["name"]})
        return reverse("rewards:categories")

    title = _("Category “%(name)s”") % {"name": category.name}
    return form_page(request, form, save, "rewards/simple_form.html", title=title, cancel=reverse("rewards:categories"))


# --------------------------------------------------------------------------- badges


@require_perm(VIEW)
def badge_list(request: HttpRequest) -> HttpResponse:
    from patron.rewards import badges as rules

    badges = Badge.objects.annotate(holders_n=Count("holders"))
    rows = []
    for badge in badges:
        try:
            described = rules.parse_rule(badge.rule).describe()
        except ValueError:  # a rule only a hand edit of the table could have made
            described = _("Invalid rule")
        rows.append((badge, described))
    return render(request, "rewards/badge_list.html", {"rows": rows, "can_manage": has_perm(request.user, MANAGE)})


def _badge_page(request: HttpRequest, badge: Badge | None) -> HttpResponse:
    form = forms.BadgeForm(request.POST or None, badge=badge)

    def save() -> str:
        code = badge.code if badge is not None else form.cleaned_data["code"]
        saved = services.do_save_badge(code=code, rule=form.rule(), badge=badge, **form.values())
        messages.success(
            request, _("Badge “%(name)s” saved; members who already qualify get it shortly.") % {"name": saved.name}
        )
        return reverse("rewards:badges")

    title = _("New badge") if badge is None else _("Badge “%(name)s”") % {"name": badge.name}
    return form_page(
        request,
        form,
        save,
        "rewards/badge_form.html",
        show_error=lambda exc: forms.put_error(form, exc, {"rule": "rule_kind"}),
        title=title,
        badge=badge,
        params=forms.RULE_PARAMS,
    )


@require_perm(MANAGE)
def badge_new(request: HttpRequest) -> HttpResponse:
    return _badge_page(request, None)


@require_perm(MANAGE)
def badge_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _badge_page(request, get_object_or_404(Badge, pk=pk))
