"""Console pages of the points mall's orders: the queue, an order and what can be done with it, and
redeeming for a member (on the phone or at the counter). See `views.py` for what the pages share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.core.errors import DomainError
from patron.core.permissions import Perm, Role, has_perm, require_perm, role_of
from patron.core.views import form_page, is_htmx, page_number, query_without_page
from patron.ledger import queries as ledger_queries
from patron.members import queries as member_queries
from patron.members.models import Member
from patron.members.phones import mask_phone
from patron.members.queries import paginate
from patron.rewards import codes, forms, queries, services
from patron.rewards.models import (
    Coupon,
    CouponSource,
    Fulfilment,
    OrderStatus,
    PartnerCode,
    RedemptionOrder,
    Reward,
    RewardKind,
)
from patron.rewards.views import LIST_PAGE, holder, member_url

VIEW = Perm.REWARDS_VIEW
REDEEM = Perm.REWARDS_REDEEM
FULFIL = Perm.REWARDS_FULFIL
WAITING_KINDS = (RewardKind.GIFT, RewardKind.STORED_VALUE)  # what staff hand over or credit by hand


def _order(number: str) -> RedemptionOrder:
    return get_object_or_404(
        RedemptionOrder.objects.select_related("member", "reward", "store", "pickup_store", "hold", "coupon"),
        number=number,
    )


def _is_cashier(request: HttpRequest) -> bool:
    return role_of(request.user) == Role.CASHIER


# --------------------------------------------------------------------------- the queue


@require_perm(VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    """Orders by status (by default the gifts and stored value waiting to be handed over or
    credited, oldest first), store, reward and member number. A cashier starts at their store."""
    initial: dict[str, Any] = {"status": forms.WAITING}
    own = member_queries.staff_store(request.user)
    if _is_cashier(request) and own is not None and not request.GET:
        initial["store"] = own
        form = forms.OrderFilterForm(initial=initial)
        chosen: dict[str, Any] = {"status": forms.WAITING, "store": own, "reward": None, "member_no": ""}
    else:
        form = forms.OrderFilterForm(request.GET or None, initial=initial)
        chosen = form.filters()
    orders = RedemptionOrder.objects.select_related("member", "reward", "pickup_store", "store")
    status = chosen["status"]
    if status == forms.WAITING:
        orders = orders.filter(status=OrderStatus.CONFIRMED, reward__kind__in=WAITING_KINDS).order_by("placed_at", "id")
    elif status != "all":
        orders = orders.filter(status=status)
    if chosen["store"] is not None:
        orders = orders.filter(Q(pickup_store=chosen["store"]) | Q(store=chosen["store"]))
    if chosen["reward"] is not None:
        orders = orders.filter(reward=chosen["reward"])
    if chosen["member_no"]:
        orders = orders.filter(member__member_no=chosen["member_no"])
    page = paginate(orders, page_number(request), LIST_PAGE)
    context = {
        "form": form,
        "page": page,
        "rows": [(order, holder(order.member)) for order in page.items],
        "query": query_without_page(request),
    }
    template = "rewards/_order_table.html" if is_htmx(request) else "rewards/order_list.html"
    return render(request, template, context)


# --------------------------------------------------------------------------- one order


def _actions(request: HttpRequest, order: RedemptionOrder) -> dict[str, bool]:
    """Which actions the page offers (the services decide whether each is allowed)."""
    user = request.user
    kind = order.reward.kind
    return {
        "confirm": order.status == OrderStatus.PLACED and has_perm(user, REDEEM),
        "fulfil": order.status == OrderStatus.CONFIRMED and kind in WAITING_KINDS and has_perm(user, FULFIL),
        "use": kind == RewardKind.SERVICE
        and order.status == OrderStatus.FULFILLED
        and order.used_at is None
        and has_perm(user, FULFIL),
        "cancel": services.cancellable(order) and has_perm(user, REDEEM),
    }


def _render_order(request: HttpRequest, order: RedemptionOrder, status: int = 200, **overrides: Any) -> HttpResponse:
    user = request.user
    handles = has_perm(user, REDEEM) or has_perm(user, FULFIL)  # who gives the member what they bought
    address = dict(order.address or {})
    if address.get("phone") and not has_perm(user, FULFIL):
        address["phone"] = mask_phone(str(address["phone"]))
    issued = Coupon.objects.filter(source=CouponSource.REWARD, source_ref=order.number).select_related("batch")
    context: dict[str, Any] = {
        "order": order,
        "who": holder(order.member),
        "address": address,
        "can": _actions(request, order),
        "shows_codes": handles,
        "voucher": codes.display(order.voucher_code) if order.voucher_code else "",
        "partner_codes": list(PartnerCode.objects.filter(order=order).values_list("code", flat=True))
        if handles
        else [],
        "coupons": [(c, codes.display(c.code or "")) for c in issued] if handles else [],
        "fulfil_form": forms.FulfilForm(),
        "cancel_form": forms.ReasonForm(),
        "is_delivery": order.fulfilment == Fulfilment.DELIVERY,
        "is_stored_value": order.reward.kind == RewardKind.STORED_VALUE,
    }
    context.update(overrides)
    return render(request, "rewards/order_detail.html", context, status=status)


@require_perm(VIEW)
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_order(request, _order(number))


def _done(request: HttpRequest, order: RedemptionOrder) -> HttpResponse:
    return redirect("rewards:order", number=order.number)


def _act(request: HttpRequest, number: str, act: Callable[..., Any], done: str) -> HttpResponse:
    """An order action without a form: run it, say what happened or why not, back to the order."""
    order = _order(number)
    try:
        act(order=order)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"n": order.number})
    return _done(request, order)


@require_perm(REDEEM)
@require_POST
def order_confirm(request: HttpRequest, number: str) -> HttpResponse:
    return _act(request, number, services.do_confirm_order, _("Order %(n)s confirmed: the points are spent."))


@require_perm(FULFIL)
@require_POST
def order_fulfil(request: HttpRequest, number: str) -> HttpResponse:
    """Hand a gift over in store, ship it (carrier and tracking number), or record the stored-value credit."""
    order = _order(number)
    form = forms.FulfilForm(request.POST)
    if form.is_valid():
        try:
            services.do_fulfil_order(
                order=order, at_store=member_queries.staff_store(request.user), **form.cleaned_data
            )
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            messages.success(request, _("Order %(n)s fulfilled.") % {"n": order.number})
            return _done(request, order)
    return _render_order(request, order, status=422, fulfil_form=form)


@require_perm(FULFIL)
@require_POST
def order_use_voucher(request: HttpRequest, number: str) -> HttpResponse:
    return _act(request, number, services.do_use_voucher, _("Voucher of order %(n)s marked used."))


@require_perm(REDEEM)
@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    """Cancel with a reason: the stock and the member's points come back."""
    order = _order(number)
    form = forms.ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.do_cancel_order(order=order, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            forms.put_error(form, exc)
        else:
            messages.success(request, _("Order %(n)s cancelled; the points are back.") % {"n": order.number})
            return _done(request, order)
    return _render_order(request, order, status=422, cancel_form=form)


# --------------------------------------------------------------------------- redeeming for a member


def _member(pk: int) -> Member:
    return get_object_or_404(Member.objects.select_related("store"), pk=pk)


@require_perm(REDEEM)
def redeem_list(request: HttpRequest, pk: int) -> HttpResponse:
    """What the member may redeem now (in the staff member's store, when they have one) and the
    points they have to spend."""
    member = _member(pk)
    own = member_queries.staff_store(request.user)
    available = ledger_queries.balance(member).available
    rewards = queries.catalog_for(member, store_id=own.pk if own else None)
    context = {
        "m": member,
        "who": holder(member),
        "available": available,
        "store": own,
        "rows": [(reward, reward.points <= available) for reward in rewards],
        "back": member_url(member),
    }
    return render(request, "rewards/redeem_list.html", context)


@require_perm(REDEEM)
def redeem_reward(request: HttpRequest, pk: int, reward_pk: int) -> HttpResponse:
    """Redeem one reward for the member: how many, and pick-up or delivery. A cashier redeems in
    their store; the points are spent at once (a console order is confirmed when placed)."""
    member = _member(pk)
    reward = get_object_or_404(Reward.objects.select_related("category"), pk=reward_pk)
    own = member_queries.staff_store(request.user)
    form = forms.RedeemForm(request.POST or None, reward=reward, own_store=own, cashier=_is_cashier(request))

    def save() -> str:
        order = services.do_place_order(
            request=services.OrderRequest(
                member=member, reward=reward, channel="console", store=own, **form.order_values()
            )
        )
        messages.success(
            request,
            _("Order %(n)s placed for %(points)s points.") % {"n": order.number, "points": order.points},
        )
        return reverse("rewards:order", args=[order.number])

    context = {
        "m": member,
        "who": holder(member),
        "reward": reward,
        "available": ledger_queries.balance(member).available,
        "store": own,
        "title": _("Redeem “%(reward)s” for %(name)s") % {"reward": reward.display, "name": member.name},
    }
    return form_page(
        request, form, save, "rewards/redeem_form.html", show_error=lambda exc: forms.put_error(form, exc), **context
    )
