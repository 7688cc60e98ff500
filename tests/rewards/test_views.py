"""The rewards' console pages: every page and POST walked by every role, then what the pages do (the
catalog with images, redeeming for a member, fulfilling and cancelling orders, coupon batches with
their codes, exports and issuing, the lookup, the reports, badges, the member page's sections and
the timeline's sentences)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from patron.core import clock
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.ledger import audit as ledger_audit
from patron.ledger import queries as ledger_queries
from patron.members.queries import registered_timeline_sentence
from patron.members.services import do_tag_member
from patron.rewards import codes, discounts, forms, services, tasks
from patron.rewards.models import (
    Badge,
    Coupon,
    CouponBatch,
    CouponStatus,
    MemberBadge,
    OrderStatus,
    PartnerCode,
    RedemptionOrder,
    Reward,
    RewardCategory,
)
from tests.factories import make_member, make_sale, make_staff, make_store
from tests.rewards.factories import (
    make_badge,
    make_batch,
    make_gift,
    make_partner_reward,
    make_service_reward,
    member_with_points,
    place_order,
)
from tests.roles import Case, url_of, walk, walk_anonymous

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _ledger_adds_up(db):
    yield
    failed = [c for c in ledger_audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


def available(member) -> int:
    return ledger_queries.balance(member).available


def reward_of(reward: Reward) -> Reward:
    return Reward.objects.get(pk=reward.pk)


def order_of(order: RedemptionOrder) -> RedemptionOrder:
    return RedemptionOrder.objects.get(pk=order.pk)


def post_data(form: Any, **changes: Any) -> dict[str, Any]:
    """What a browser posts for the form as drawn, with `changes` typed over it (None clears a field)."""
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False or value == "" or value == []:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = str(value)
    for key, value in changes.items():
        if value is None or value is False:
            data.pop(key, None)
        else:
            data[key] = "on" if value is True else value
    return data


def new_reward_data(**changes: Any) -> dict[str, Any]:
    data = {
        "code": "umbrella",
        "kind": "gift",
        "name": "雨伞",
        "name_en": "Umbrella",
        "points": "800",
        "cash": "0",
        "currency": "CNY",
        "fulfilment": "pickup",
        "stock": "5",
        "per_member_period": "ever",
        "is_active": "on",
        "position": "0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def new_batch_data(**changes: Any) -> dict[str, Any]:
    data = {
        "code": "weekend",
        "name": "周末券",
        "name_en": "Weekend",
        "kind": "amount_off",
        "amount_off": "10",
        "currency": "CNY",
        "min_spend": "50",
        "valid_days": "7",
        "code_mode": "unique",
        "per_member_limit": "1",
        "stacking": "exclusive",
        "max_per_order": "1",
        "unredeem_hours": "24",
        "is_active": "on",
        "restore_on_refund": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def world(store):
    member = member_with_points(20_000, store=store, name="张伟")
    buyer = member_with_points(5_000, store=store, name="李娜")
    other = make_member(store=store, name="王芳")
    gift = make_gift(points=1000, stock=10, code="flask")
    placed = place_order(member, gift, pickup_store=store, confirm=False)
    confirmed = place_order(member, gift, pickup_store=store)
    wash = make_service_reward(points=300, code="wash")
    voucher = place_order(member, wash)
    partner = make_partner_reward(points=200, code="video", codes=("P-1", "P-2"))
    category = services.do_save_category(code="home", name="家居", name_en="Home", position=1)
    batch = make_batch(code="b20")
    coupon = services.do_issue_coupon(batch=batch, member=member)
    badge = make_badge(code="first")
    return SimpleNamespace(
        store=store,
        member=member,
        buyer=buyer,
        other=other,
        gift=gift,
        placed=placed,
        confirmed=confirmed,
        wash=wash,
        voucher=voucher,
        partner=partner,
        category=category,
        batch=batch,
        coupon=coupon,
        badge=badge,
    )


def _edit_reward(w):
    return post_data(forms.RewardForm(reward=reward_of(w.gift)), name="新保温杯")


def _edit_batch(w):
    return post_data(forms.BatchForm(batch=CouponBatch.objects.get(pk=w.batch.pk)), name="满100减25")


def _edit_badge(w):
    return post_data(forms.BadgeForm(badge=Badge.objects.get(pk=w.badge.pk)), name="首单之星")


def _holds(member, batch) -> bool:
    return Coupon.objects.filter(member=member, batch=batch).exists()


def _order(attr: str, name: str):
    return lambda w: reverse(name, args=[getattr(w, attr).number])


CASES = [
    # the catalog
    Case("list", Perm.REWARDS_VIEW, url_of("rewards:list")),
    Case("list filtered", Perm.REWARDS_VIEW, url_of("rewards:list"), query={"kind": "gift", "active": "yes"}),
    Case("new page", Perm.REWARDS_MANAGE, url_of("rewards:new")),
    Case("detail", Perm.REWARDS_VIEW, url_of("rewards:detail", "gift")),
    Case("partner detail", Perm.REWARDS_VIEW, url_of("rewards:detail", "partner")),
    Case("edit page", Perm.REWARDS_MANAGE, url_of("rewards:edit", "gift")),
    Case(
        "new",
        Perm.REWARDS_MANAGE,
        url_of("rewards:new"),
        lambda w: new_reward_data(code="walk"),
        lambda w: Reward.objects.filter(code="walk", stock=5).exists(),
    ),
    Case(
        "edit",
        Perm.REWARDS_MANAGE,
        url_of("rewards:edit", "gift"),
        _edit_reward,
        lambda w: reward_of(w.gift).name == "新保温杯",
    ),
    Case(
        "stock",
        Perm.REWARDS_MANAGE,
        url_of("rewards:stock", "gift"),
        lambda w: {"delta": "5", "reason": "到货"},
        lambda w: reward_of(w.gift).stock == 13,
    ),
    Case(
        "partner codes",
        Perm.REWARDS_MANAGE,
        url_of("rewards:codes", "partner"),
        lambda w: {"codes": "P-3\nP-4\nP-1"},
        lambda w: PartnerCode.objects.filter(reward=w.partner).count() == 4,
    ),
    Case("categories", Perm.REWARDS_VIEW, url_of("rewards:categories")),
    Case(
        "category new",
        Perm.REWARDS_MANAGE,
        url_of("rewards:categories"),
        lambda w: {"code": "digital", "name": "数码", "position": "2"},
        lambda w: RewardCategory.objects.filter(code="digital").exists(),
    ),
    Case("category page", Perm.REWARDS_MANAGE, url_of("rewards:category_edit", "category")),
    Case(
        "category edit",
        Perm.REWARDS_MANAGE,
        url_of("rewards:category_edit", "category"),
        lambda w: {"code": "home", "name": "家居生活", "name_en": "Home", "position": "3"},
        lambda w: RewardCategory.objects.get(pk=w.category.pk).name == "家居生活",
    ),
    # badges
    Case("badges", Perm.REWARDS_VIEW, url_of("rewards:badges")),
    Case("badge new page", Perm.REWARDS_MANAGE, url_of("rewards:badge_new")),
    Case("badge page", Perm.REWARDS_MANAGE, url_of("rewards:badge_edit", "badge")),
    Case(
        "badge new",
        Perm.REWARDS_MANAGE,
        url_of("rewards:badge_new"),
        lambda w: {
            "code": "regular",
            "name": "常客",
            "icon": "🏅",
            "color": "#c9a227",
            "is_active": "on",
            "position": "0",
            "rule_kind": "purchases",
            "count": "5",
        },
        lambda w: Badge.objects.filter(code="regular", rule={"kind": "purchases", "count": 5}).exists(),
    ),
    Case(
        "badge edit",
        Perm.REWARDS_MANAGE,
        url_of("rewards:badge_edit", "badge"),
        _edit_badge,
        lambda w: Badge.objects.get(pk=w.badge.pk).name == "首单之星",
    ),
    # orders
    Case("orders", Perm.REWARDS_VIEW, url_of("rewards:orders")),
    Case("orders filtered", Perm.REWARDS_VIEW, url_of("rewards:orders"), query={"status": "all", "member_no": "x"}),
    Case("order", Perm.REWARDS_VIEW, _order("confirmed", "rewards:order")),
    Case(
        "order confirm",
        Perm.REWARDS_REDEEM,
        _order("placed", "rewards:order_confirm"),
        lambda w: {},
        lambda w: order_of(w.placed).status == OrderStatus.CONFIRMED,
    ),
    Case(
        "order fulfil",
        Perm.REWARDS_FULFIL,
        _order("confirmed", "rewards:order_fulfil"),
        lambda w: {},
        lambda w: order_of(w.confirmed).status == OrderStatus.FULFILLED,
    ),
    Case(
        "voucher used",
        Perm.REWARDS_FULFIL,
        _order("voucher", "rewards:order_use"),
        lambda w: {},
        lambda w: order_of(w.voucher).used_at is not None,
    ),
    Case(
        "order cancel",
        Perm.REWARDS_REDEEM,
        _order("confirmed", "rewards:order_cancel"),
        lambda w: {"reason": "顾客改主意"},
        lambda w: order_of(w.confirmed).status == OrderStatus.CANCELLED,
    ),
    # redeeming for a member
    Case("redeem page", Perm.REWARDS_REDEEM, url_of("rewards:redeem", "buyer")),
    Case("redeem form", Perm.REWARDS_REDEEM, lambda w: reverse("rewards:redeem_reward", args=[w.buyer.pk, w.gift.pk])),
    Case(
        "redeem",
        Perm.REWARDS_REDEEM,
        lambda w: reverse("rewards:redeem_reward", args=[w.buyer.pk, w.gift.pk]),
        lambda w: {"quantity": "1", "fulfilment": "pickup", "pickup_store": str(w.store.pk)},
        lambda w: RedemptionOrder.objects.filter(member=w.buyer, channel="console").exists(),
    ),
    Case("member issue page", Perm.COUPONS_ISSUE, url_of("rewards:member_issue", "buyer")),
    Case(
        "member issue",
        Perm.COUPONS_ISSUE,
        url_of("rewards:member_issue", "buyer"),
        lambda w: {"batch": str(w.batch.pk)},
        lambda w: _holds(w.buyer, w.batch),
    ),
    # coupons
    Case("batches", Perm.COUPONS_VIEW, url_of("rewards:batches")),
    Case("batch new page", Perm.COUPONS_MANAGE, url_of("rewards:batch_new")),
    Case("batch", Perm.COUPONS_VIEW, url_of("rewards:batch", "batch")),
    Case("batch edit page", Perm.COUPONS_MANAGE, url_of("rewards:batch_edit", "batch")),
    Case(
        "batch new",
        Perm.COUPONS_MANAGE,
        url_of("rewards:batch_new"),
        lambda w: new_batch_data(code="walk"),
        lambda w: CouponBatch.objects.filter(code="walk").exists(),
    ),
    Case(
        "batch edit",
        Perm.COUPONS_MANAGE,
        url_of("rewards:batch_edit", "batch"),
        _edit_batch,
        lambda w: CouponBatch.objects.get(pk=w.batch.pk).name == "满100减25",
    ),
    Case(
        "generate",
        Perm.COUPONS_MANAGE,
        url_of("rewards:batch_generate", "batch"),
        lambda w: {"count": "5"},
        lambda w: Coupon.objects.filter(batch=w.batch, status=CouponStatus.AVAILABLE).count() == 5,
    ),
    Case(
        "export",
        Perm.COUPONS_EXPORT,
        url_of("rewards:batch_export", "batch"),
        done=lambda w: AuditEntry.objects.filter(action="coupons.export").exists(),
    ),
    Case(
        "issue",
        Perm.COUPONS_ISSUE,
        url_of("rewards:batch_issue", "batch"),
        lambda w: {"member_no": w.buyer.member_no},
        lambda w: _holds(w.buyer, w.batch),
    ),
    Case(
        "issue group",
        Perm.COUPONS_ISSUE,
        url_of("rewards:batch_issue_group", "batch"),
        lambda w: {"group": "list", "member_nos": f"{w.buyer.member_no}\n{w.other.member_no}"},
        lambda w: _holds(w.buyer, w.batch) and _holds(w.other, w.batch),
    ),
    Case(
        "void",
        Perm.COUPONS_ISSUE,
        url_of("rewards:coupon_void", "coupon"),
        lambda w: {"reason": "误发"},
        lambda w: Coupon.objects.get(pk=w.coupon.pk).status == CouponStatus.VOIDED,
    ),
    Case("lookup", Perm.COUPONS_VIEW, url_of("rewards:lookup")),
    Case("lookup a code", Perm.COUPONS_VIEW, url_of("rewards:lookup"), query={"code": "nothing-here"}),
    # reports
    Case("mall report", Perm.REWARDS_VIEW, url_of("rewards:mall_report")),
    Case("mall export", Perm.REWARDS_VIEW, url_of("rewards:mall_export"), query={"table": "rewards", "format": "xlsx"}),
    Case("coupon report", Perm.COUPONS_VIEW, url_of("rewards:coupon_report")),
    Case("coupon export", Perm.COUPONS_VIEW, url_of("rewards:coupon_export"), query={"table": "batches"}),
]
# Writes whose services leave an audit row (confirming an order, marking a voucher used and placing
# an order do not: see the report to the team).
AUDITED = {
    "new",
    "edit",
    "stock",
    "partner codes",
    "category new",
    "category edit",
    "badge new",
    "badge edit",
    "order fulfil",
    "order cancel",
    "member issue",
    "batch new",
    "batch edit",
    "generate",
    "export",
    "issue",
    "issue group",
    "void",
}


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    walk(client, staff(role), role, case, world, audited=case.name in AUDITED)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    walk_anonymous(client, case, world)


def test_navigation_offers_the_pages_to_the_roles_that_may_use_them(client, staff):
    for role in Role:
        client.force_login(staff(role.value))
        context = client.get(reverse("console:dashboard")).context
        urls = [url for url, _name, _label in context["nav"]]
        for name, perm in [
            ("rewards:list", Perm.REWARDS_VIEW),
            ("rewards:orders", Perm.REWARDS_VIEW),
            ("rewards:badges", Perm.REWARDS_VIEW),
            ("rewards:batches", Perm.COUPONS_VIEW),
            ("rewards:lookup", Perm.COUPONS_VIEW),
        ]:
            assert (reverse(name) in urls) == (role in roles_with(perm)), (role, name)
        assert "Rewards" not in [str(label) for label in context["nav_coming"]]


# --------------------------------------------------------------------------- the catalog


def test_a_reward_is_created_with_its_image_and_the_image_is_served_by_its_type(client, staff, store):
    client.force_login(staff("marketer"))
    batch = make_batch(code="c10")
    image = SimpleUploadedFile("photo.html", PNG, content_type="text/html")
    data = new_reward_data(category=None, stores=[str(store.pk)], image=image, starts_at="2026-01-01T09:00")
    response = client.post(reverse("rewards:new"), data)
    reward = Reward.objects.get(code="umbrella")
    assert response["Location"] == reverse("rewards:detail", args=[reward.pk])
    assert reward.image.name.startswith("rewards/") and reward.image.name.endswith(".png")
    assert (reward.kind, reward.points, reward.stock, reward.sold) == ("gift", 800, 5, 0)
    assert list(reward.stores.all()) == [store]
    assert reward.starts_at == dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    assert AuditEntry.objects.filter(action="rewards.create", object_id=str(reward.pk)).exists()
    served = client.get(reverse("rewards:image", args=[reward.pk]))
    assert served["Content-Type"] == "image/png" and served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    page = client.get(reverse("rewards:detail", args=[reward.pk])).content.decode()
    assert 'data-testid="reward-image"' in page
    # A coupon reward names its batch; the service's refusal lands on the field.
    refused = client.post(reverse("rewards:new"), new_reward_data(code="c", kind="coupon", fulfilment="digital"))
    assert refused.status_code == 422
    assert "A coupon reward issues from a coupon batch" in refused.content.decode()
    made = client.post(
        reverse("rewards:new"),
        new_reward_data(code="c", kind="coupon", fulfilment="digital", coupon_batch=str(batch.pk), stock=None),
    )
    assert made.status_code == 302
    assert Reward.objects.get(code="c").coupon_batch == batch


@pytest.mark.parametrize("content", [JPEG, WEBP])
def test_jpeg_and_webp_images_are_accepted(client, staff, db, content):
    client.force_login(staff("admin"))
    image = SimpleUploadedFile("x.bin", content)
    assert client.post(reverse("rewards:new"), new_reward_data(image=image)).status_code == 302
    name = Reward.objects.get(code="umbrella").image.name
    assert name.endswith(".jpg" if content is JPEG else ".webp")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"GIF89a" + b"\x00" * 40, "Upload a PNG, JPEG or WebP image."),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "Upload a PNG, JPEG or WebP image."),
        (PNG + b"\x00" * (2 * 1024 * 1024), "The image must be under 2 MB."),
    ],
)
def test_an_image_that_is_not_a_small_png_jpeg_or_webp_is_refused(client, staff, db, content, message):
    client.force_login(staff("marketer"))
    image = SimpleUploadedFile("x.png", content, content_type="image/png")
    response = client.post(reverse("rewards:new"), new_reward_data(image=image))
    assert response.status_code == 422
    body = response.content.decode()
    start = body.index('data-testid="error-image"')
    assert message in body[start : start + 200]
    assert not Reward.objects.exists()


def test_editing_keeps_the_stock_and_audits_only_what_changed(client, staff, world):
    client.force_login(staff("marketer"))
    data = _edit_reward(world)
    data.update({"points": "1200", "stock": "999"})  # stock is not on the edit form
    response = client.post(reverse("rewards:edit", args=[world.gift.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    gift = reward_of(world.gift)
    assert (gift.name, gift.points, gift.stock) == ("新保温杯", 1200, 8)
    row = AuditEntry.objects.filter(action="rewards.update").latest("id")
    assert set(row.after) == {"name", "points"}


def test_stock_moves_by_an_adjustment_with_a_reason_and_never_below_zero(client, staff, world):
    client.force_login(staff("marketer"))
    url = reverse("rewards:stock", args=[world.gift.pk])
    response = client.post(url, {"delta": "-3", "reason": ""})
    assert response.status_code == 422 and "Say why the stock changes." in response.content.decode()
    response = client.post(url, {"delta": "-100", "reason": "盘点"})
    assert response.status_code == 422 and "Stock cannot go below zero" in response.content.decode()
    assert reward_of(world.gift).stock == 8
    assert client.post(url, {"delta": "-3", "reason": "盘点"}).status_code == 302
    assert reward_of(world.gift).stock == 5


def test_partner_codes_are_added_one_a_line_and_duplicates_skipped(client, staff, world):
    client.force_login(staff("marketer"))
    response = client.post(reverse("rewards:codes", args=[world.partner.pk]), {"codes": " P-9 \n\nP-1\nP-9\n"})
    assert response.status_code == 302
    assert reward_of(world.partner).stock == 3
    listed = client.get(response["Location"])
    assert "1 code added to the pool." in [str(m) for m in listed.context["messages"]]


def test_the_catalog_filters_by_kind_category_and_active(client, staff, world):
    reward = services.do_create_reward(
        code="mug",
        kind="gift",
        name="马克杯",
        points=300,
        fulfilment="pickup",
        category=world.category,
        is_active=False,
    )
    client.force_login(staff("analyst"))

    def codes_of(**query):
        return [r.code for r in client.get(reverse("rewards:list"), query).context["page"].items]

    assert set(codes_of()) == {"flask", "wash", "video", "mug"}
    assert codes_of(kind="service") == ["wash"]
    assert codes_of(category=str(world.category.pk)) == ["mug"]
    assert codes_of(active="no") == [reward.code]


def test_categories_are_listed_and_added_and_a_taken_code_is_refused(client, staff, world):
    client.force_login(staff("marketer"))
    url = reverse("rewards:categories")
    response = client.post(url, {"code": "home", "name": "重复"})
    assert response.status_code == 422
    assert "A category with this code exists." in response.content.decode()
    assert client.post(url, {"code": "food", "name": "食品", "name_en": "Food", "position": "5"}).status_code == 302
    page = client.get(url).content.decode()
    assert 'data-code="food"' in page and 'data-code="home"' in page


# --------------------------------------------------------------------------- redeeming and orders


def test_an_order_placed_from_the_console_spends_points_and_takes_stock(client, staff, world):
    cashier = staff("cashier")  # bound to the world's store
    client.force_login(cashier)
    page = client.get(reverse("rewards:redeem", args=[world.buyer.pk]))
    assert page.context["available"] == 5000
    rows = {r.code: affordable for r, affordable in page.context["rows"]}
    assert rows == {"flask": True, "wash": True, "video": True}
    response = client.post(
        reverse("rewards:redeem_reward", args=[world.buyer.pk, world.gift.pk]),
        {"quantity": "2", "fulfilment": "pickup", "pickup_store": str(world.store.pk)},
    )
    order = RedemptionOrder.objects.get(member=world.buyer)
    assert response["Location"] == reverse("rewards:order", args=[order.number])
    assert (order.status, order.points, order.quantity, order.channel) == (OrderStatus.CONFIRMED, 2000, 2, "console")
    assert order.store == world.store and order.pickup_store == world.store
    assert order.placed_by == cashier.username
    assert available(world.buyer) == 3000
    gift = reward_of(world.gift)
    assert (gift.stock, gift.sold) == (6, 4)


def test_a_cashier_may_only_hand_over_in_their_own_store(client, staff, world):
    client.force_login(staff("cashier"))
    elsewhere = make_store(code="BJ001")
    response = client.post(
        reverse("rewards:redeem_reward", args=[world.buyer.pk, world.gift.pk]),
        {"quantity": "1", "fulfilment": "pickup", "pickup_store": str(elsewhere.pk)},
    )
    assert response.status_code == 422
    assert 'data-testid="error-pickup_store"' in response.content.decode()
    assert not RedemptionOrder.objects.filter(member=world.buyer).exists()


def test_a_refused_order_shows_why_and_moves_nothing(client, staff, world):
    client.force_login(staff("agent"))
    url = reverse("rewards:redeem_reward", args=[world.buyer.pk, world.gift.pk])
    response = client.post(url, {"quantity": "6", "fulfilment": "pickup", "pickup_store": str(world.store.pk)})
    assert response.status_code == 422
    assert "Not enough points: 5000 can be spent on this, 6000 asked." in response.content.decode()
    response = client.post(url, {"quantity": "1", "fulfilment": "pickup"})
    assert response.status_code == 422
    assert "Choose the store to pick it up from." in response.content.decode()
    assert available(world.buyer) == 5000 and reward_of(world.gift).stock == 8


def test_a_delivered_gift_is_fulfilled_with_its_tracking_number(client, staff, world):
    parcel = make_gift(points=500, stock=3, code="parcel", fulfilment="delivery")
    client.force_login(staff("agent"))
    address = {"address_name": "李娜", "address_phone": "13912345678", "address_address": "上海市南京路1号"}
    client.post(reverse("rewards:redeem_reward", args=[world.buyer.pk, parcel.pk]), {"quantity": "1", **address})
    order = RedemptionOrder.objects.get(member=world.buyer)
    assert order.address == {"name": "李娜", "phone": "13912345678", "address": "上海市南京路1号"}
    agent_view = client.get(reverse("rewards:order", args=[order.number])).content.decode()
    assert "139****5678" in agent_view and "13912345678" not in agent_view  # agents do not ship
    client.force_login(staff("supervisor"))
    url = reverse("rewards:order_fulfil", args=[order.number])
    response = client.post(url, {"carrier": "顺丰"})
    assert response.status_code == 422
    assert 'data-testid="error-tracking_no"' in response.content.decode()
    response = client.post(url, {"carrier": "顺丰", "tracking_no": "SF1234567890"})
    assert response.status_code == 302
    order = order_of(order)
    assert (order.status, order.carrier, order.tracking_no) == (OrderStatus.FULFILLED, "顺丰", "SF1234567890")
    page = client.get(reverse("rewards:order", args=[order.number])).content.decode()
    assert "SF1234567890" in page and "13912345678" in page
    assert 'data-testid="cancel-form"' not in page  # a shipped gift is not cancellable


def test_cancelling_an_order_gives_the_points_and_the_stock_back(client, staff, world):
    client.force_login(staff("supervisor"))
    before = available(world.member)
    url = reverse("rewards:order_cancel", args=[world.confirmed.number])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 422 and "Say why the order is cancelled." in response.content.decode()
    response = client.post(url, {"reason": "顾客改主意"})
    assert response.status_code == 302
    order = order_of(world.confirmed)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "顾客改主意")
    assert available(world.member) == before + 1000
    assert reward_of(world.gift).stock == 9
    page = client.get(reverse("rewards:order", args=[order.number])).content.decode()
    assert 'data-testid="cancel-reason"' in page and 'data-testid="cancel-form"' not in page


def test_a_placed_order_is_confirmed_and_a_voucher_used_once(client, staff, world):
    client.force_login(staff("admin"))
    client.post(reverse("rewards:order_confirm", args=[world.placed.number]))
    assert order_of(world.placed).status == OrderStatus.CONFIRMED
    again = client.post(reverse("rewards:order_confirm", args=[world.placed.number]), follow=True)
    assert "This order is Confirmed." in [str(m) for m in again.context["messages"]]
    client.post(reverse("rewards:order_use", args=[world.voucher.number]))
    assert order_of(world.voucher).used_at is not None
    again = client.post(reverse("rewards:order_use", args=[world.voucher.number]), follow=True)
    assert "This voucher was already used or the order is cancelled." in [str(m) for m in again.context["messages"]]


def test_the_queue_shows_gifts_waiting_by_default_and_filters(client, staff, world):
    client.force_login(staff("supervisor"))
    listed = client.get(reverse("rewards:orders"))
    assert [o.number for o, _who in listed.context["rows"]] == [world.confirmed.number]
    body = listed.content.decode()
    assert world.member.member_no in body and "139" in body and world.member.phone not in body
    every = client.get(reverse("rewards:orders"), {"status": "all"}).context["rows"]
    assert {o.number for o, _w in every} == {world.placed.number, world.confirmed.number, world.voucher.number}
    placed = client.get(reverse("rewards:orders"), {"status": "placed"}).context["rows"]
    assert [o.number for o, _w in placed] == [world.placed.number]
    by_reward = client.get(reverse("rewards:orders"), {"status": "all", "reward": str(world.wash.pk)}).context["rows"]
    assert [o.number for o, _w in by_reward] == [world.voucher.number]
    nobody = client.get(reverse("rewards:orders"), {"status": "all", "member_no": world.buyer.member_no})
    assert nobody.context["rows"] == []
    partial = client.get(reverse("rewards:orders"), {"status": "all"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and 'data-testid="orders"' in partial.content.decode()


def test_a_cashier_starts_at_the_orders_of_their_store(client, staff, world):
    client.force_login(staff("cashier"))
    other = make_store(code="GZ001")
    elsewhere = place_order(world.buyer, world.gift, pickup_store=other)
    rows = client.get(reverse("rewards:orders")).context["rows"]
    assert [o.number for o, _w in rows] == [world.confirmed.number]
    rows = client.get(reverse("rewards:orders"), {"store": str(other.pk)}).context["rows"]
    assert [o.number for o, _w in rows] == [elsewhere.number]


# --------------------------------------------------------------------------- coupons


def test_a_batch_is_created_its_codes_generated_and_exported(client, staff, db):
    client.force_login(staff("marketer"))
    response = client.post(reverse("rewards:batch_new"), new_batch_data(categories="drinks, snacks"))
    batch = CouponBatch.objects.get(code="weekend")
    assert response["Location"] == reverse("rewards:batch", args=[batch.pk])
    assert (batch.kind, batch.amount_off, batch.valid_days, batch.categories) == (
        "amount_off",
        Decimal("10.00"),
        7,
        ["drinks", "snacks"],
    )
    assert client.post(reverse("rewards:batch_generate", args=[batch.pk]), {"count": "25"}).status_code == 302
    made = set(Coupon.objects.filter(batch=batch, status=CouponStatus.AVAILABLE).values_list("code", flat=True))
    assert len(made) == 25
    response = client.get(reverse("rewards:batch_export", args=[batch.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="coupons-weekend.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["Code", "Valid from", "Valid until"]
    assert {codes.normalize(row[0]) for row in rows[1:]} == made
    assert all(len(row[0]) == 14 for row in rows[1:])  # shown in groups of four
    audit = AuditEntry.objects.get(action="coupons.export")
    assert audit.after == {"count": 25} and audit.object_id == str(batch.pk)


def test_a_batch_refusal_shows_on_its_field(client, staff, db):
    client.force_login(staff("marketer"))
    response = client.post(reverse("rewards:batch_new"), new_batch_data(kind="percent_off", amount_off=None))
    assert response.status_code == 422
    body = response.content.decode()
    start = body.index('data-testid="error-percent_off"')
    assert "A percentage between 1 and 99." in body[start : start + 200]
    assert not CouponBatch.objects.exists()


def test_many_codes_are_made_in_the_background(client, staff, db, monkeypatch, django_capture_on_commit_callbacks):
    client.force_login(staff("marketer"))
    batch = make_batch(code="big")
    queued = []
    monkeypatch.setattr(tasks, "generate_codes", SimpleNamespace(enqueue=lambda *args: queued.append(args)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rewards:batch_generate", args=[batch.pk]), {"count": "10001"})
    assert response.status_code == 302
    assert queued == [(batch.pk, 10001)]
    assert not Coupon.objects.filter(batch=batch).exists()


def test_coupons_are_issued_to_a_pasted_list_and_unknown_numbers_named(client, staff, world):
    client.force_login(staff("agent"))
    pasted = f"{world.buyer.member_no}, {world.other.member_no}\n{world.member.member_no}\nNOPE-1"
    response = client.post(
        reverse("rewards:batch_issue_group", args=[world.batch.pk]), {"group": "list", "member_nos": pasted}
    )
    assert response.status_code == 302
    said = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert "No member has these numbers: NOPE-1" in said
    assert "2 coupons issued; 1 members skipped (at their limit, or the batch is closed)." in said
    assert _holds(world.buyer, world.batch) and _holds(world.other, world.batch)
    assert Coupon.objects.filter(member=world.member, batch=world.batch).count() == 1  # at its limit
    assert AuditEntry.objects.filter(action="coupons.issue_bulk", after={"issued": 2, "skipped": 1}).exists()


def test_a_large_group_is_issued_in_the_background(
    client, staff, world, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(staff("marketer"))
    monkeypatch.setattr(services.coupons, "GROUP_INLINE", 1)
    queued = []
    monkeypatch.setattr(tasks, "issue_to_members", SimpleNamespace(enqueue=lambda *args: queued.append(args)))
    pasted = f"{world.buyer.member_no} {world.other.member_no}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("rewards:batch_issue_group", args=[world.batch.pk]), {"group": "list", "member_nos": pasted}
        )
    assert response.status_code == 302
    assert queued == [(world.batch.pk, sorted([world.buyer.pk, world.other.pk]), "")]
    assert not _holds(world.buyer, world.batch)


def test_coupons_are_issued_to_members_with_a_tag(client, staff, world):
    do_tag_member(member=world.other, tag_name="VIP")
    client.force_login(staff("marketer"))
    response = client.post(reverse("rewards:batch_issue_group", args=[world.batch.pk]), {"group": "tag", "tag": "VIP"})
    assert response.status_code == 302
    assert _holds(world.other, world.batch) and not _holds(world.buyer, world.batch)
    response = client.post(reverse("rewards:batch_issue_group", args=[world.batch.pk]), {"group": "tag"})
    assert response.status_code == 422 and 'data-testid="error-tag"' in response.content.decode()


def test_issuing_to_one_member_by_number(client, staff, world):
    client.force_login(staff("agent"))
    url = reverse("rewards:batch_issue", args=[world.batch.pk])
    response = client.post(url, {"member_no": "NOPE"})
    assert response.status_code == 422 and "Member not found." in response.content.decode()
    response = client.post(url, {"member_no": world.member.member_no})
    assert response.status_code == 422
    assert "A member may hold 1 of this coupon; this member has 1." in response.content.decode()
    assert client.post(url, {"member_no": world.buyer.member_no}).status_code == 302
    coupon = Coupon.objects.get(member=world.buyer)
    assert (coupon.status, coupon.source) == (CouponStatus.ISSUED, "manual")


def test_the_lookup_finds_a_code_as_typed_and_shows_its_holder_masked(client, staff, world, store):
    code = world.coupon.code
    services.do_redeem_coupons(
        request=services.RedeemRequest(
            texts=(code,),
            basket=discounts.Basket(amount=Decimal("150.00"), store_id=store.pk),
            member=world.member,
            store=store,
            sale_external_id="S-1",
        )
    )
    client.force_login(staff("cashier"))
    typed = f" {code[:4].lower()}-{code[4:8]} {code[8:]} "
    response = client.get(reverse("rewards:lookup"), {"code": typed})
    assert response.status_code == 200
    body = response.content.decode()
    assert codes.display(code) in body
    assert world.member.member_no in body and world.member.phone not in body
    assert 'data-testid="lookup-status"' in body and "Redeemed" in body
    assert response.context["uses"][0][0].sale_external_id == "S-1"
    assert 'data-testid="void-form"' not in body  # a used coupon cannot be voided
    missing = client.get(reverse("rewards:lookup"), {"code": "ZZZZ-ZZZZ-ZZZZ"}).content.decode()
    assert 'data-testid="not-found"' in missing
    empty = client.get(reverse("rewards:lookup"), {"code": "--"})
    assert empty.status_code == 422


def test_the_lookup_finds_a_shared_code(client, staff, db):
    batch = make_batch(code="promo", code_mode="shared", shared_code="summer-26")
    client.force_login(staff("marketer"))
    response = client.get(reverse("rewards:lookup"), {"code": "Summer26"})
    assert response.context["batch"] == batch and response.context["coupon"] is None
    assert "A shared code of the batch" in response.content.decode()


def test_a_coupon_is_voided_with_a_reason_from_the_lookup(client, staff, world):
    client.force_login(staff("supervisor"))
    lookup = reverse("rewards:lookup") + f"?code={world.coupon.code}"
    assert 'data-testid="void-form"' in client.get(lookup).content.decode()
    url = reverse("rewards:coupon_void", args=[world.coupon.pk])
    client.post(url, {"reason": "", "next": lookup})
    assert Coupon.objects.get(pk=world.coupon.pk).status == CouponStatus.ISSUED
    response = client.post(url, {"reason": "重复发放", "next": lookup})
    assert response["Location"] == lookup
    assert Coupon.objects.get(pk=world.coupon.pk).status == CouponStatus.VOIDED
    assert AuditEntry.objects.filter(action="coupons.void", reason="重复发放").exists()


def test_the_batch_list_counts_rows_not_counters(client, staff, world):
    CouponBatch.objects.filter(pk=world.batch.pk).update(issued_count=99, redeemed_count=99)
    services.do_generate_codes(batch=world.batch, count=3)
    client.force_login(staff("analyst"))
    [batch] = client.get(reverse("rewards:batches")).context["page"].items
    assert (batch.codes, batch.issued, batch.redeemed) == (4, 1, 0)


# --------------------------------------------------------------------------- reports


@pytest.fixture
def sales(store):
    """A small known data set: two batches, three live uses (one undone), sales recorded for two."""
    ten = make_batch(code="ten", name="十元券", amount_off=Decimal("10.00"), min_spend=Decimal("50.00"))
    twenty = make_batch(code="twenty", name="二十元券")
    members = [member_with_points(0, store=store) for _i in range(4)]
    for member in members:
        services.do_issue_coupon(batch=ten, member=member)
    services.do_issue_coupon(batch=twenty, member=members[0])

    def use(batch, member, amount, receipt):
        coupon = Coupon.objects.get(batch=batch, member=member)
        basket = discounts.Basket(amount=Decimal(amount), store_id=store.pk)
        request = services.RedeemRequest(
            texts=(coupon.code or "",), basket=basket, member=member, store=store, sale_external_id=receipt
        )
        return services.do_redeem_coupons(request=request)

    use(ten, members[0], "80.00", "R1")
    make_sale(members[0], store, amount="80.00", external_id="R1")
    use(ten, members[1], "60.00", "R2")
    make_sale(members[1], store, amount="60.00", external_id="R2")
    use(ten, members[2], "55.00", "R3")  # its sale never reached us
    use(twenty, members[0], "200.00", "R4")
    services.do_unredeem(store=store, sale_external_id="R4")  # voided at the till: not counted
    return SimpleNamespace(ten=ten, twenty=twenty, members=members)


def test_the_coupon_report_counts_issued_redeemed_discount_and_sales(client, staff, sales):
    client.force_login(staff("analyst"))
    response = client.get(reverse("rewards:coupon_report"))
    rows = {r.batch.code: r for r in response.context["rows"]}
    ten, twenty = rows["ten"], rows["twenty"]
    assert (ten.issued, ten.redeemed, ten.rate) == (4, 3, Decimal("75.0"))
    assert (ten.discount, ten.revenue, ten.sales, ten.matched) == (
        Decimal("30.00"),
        Decimal("195.00"),
        Decimal("140.00"),
        2,
    )
    assert (twenty.issued, twenty.redeemed, twenty.discount, twenty.revenue) == (1, 0, Decimal("0.00"), Decimal("0.00"))
    totals = response.context["totals"]
    assert (totals["issued"], totals["redeemed"], totals["rate"]) == (5, 3, Decimal("60.0"))
    days = response.context["days"]
    assert len(days) == 90 and days[-1]["day"] == clock.local_today().isoformat()
    assert days[-1]["redemptions"] == 3 and days[-1]["discount"] == Decimal("30.00")
    assert sum(d["redemptions"] for d in days) == 3
    chart = response.context["chart"]
    assert chart["redemptions"][-1] == 3 and len(chart["days"]) == 90
    body = response.content.decode()
    assert "vendor/echarts.min.js" in body and 'id="coupon-data"' in body


def test_the_coupon_report_downloads_as_csv_and_excel(client, staff, sales):
    client.force_login(staff("marketer"))
    url = reverse("rewards:coupon_export")
    as_csv = client.get(url, {"table": "batches", "format": "csv"})
    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Batch code", "Batch", "Issued", "Redeemed"]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["ten"][2:] == ["4", "3", "75.0", "30.00", "195.00", "140.00", "2"]
    as_xlsx = client.get(url, {"table": "days", "format": "xlsx"})
    assert as_xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    values = list(sheet.values)
    assert values[0] == ("Day", "Redemptions", "Discount given")
    assert values[-1][0] == clock.local_today().isoformat() and values[-1][1] == 3
    assert client.get(url, {"table": "nonsense"}).status_code == 404


def test_the_mall_report_counts_orders_points_months_and_low_stock(client, staff, world):
    mug = make_gift(points=200, stock=2, code="mug")
    place_order(world.buyer, mug, pickup_store=world.store, quantity=2)  # the mug is sold out
    client.force_login(staff("analyst"))
    response = client.get(reverse("rewards:mall_report"))
    rows = {r["reward"].code: r for r in response.context["rows"]}
    # flask: one placed (not spent yet) and one confirmed; wash: one fulfilled voucher; mug: two.
    assert (rows["flask"]["orders"], rows["flask"]["points"], rows["flask"]["placed"]) == (1, 1000, 1)
    assert (rows["wash"]["orders"], rows["wash"]["points"]) == (1, 300)
    assert (rows["mug"]["orders"], rows["mug"]["quantity"], rows["mug"]["points"]) == (1, 2, 400)
    assert response.context["totals"] == {"orders": 3, "quantity": 4, "points": 1700}
    months = response.context["months"]
    assert len(months) == 12 and months[-1]["month"] == clock.local_today().strftime("%Y-%m")
    assert (months[-1]["orders"], months[-1]["points"]) == (3, 1700)
    assert [r.code for r in response.context["low"]] == ["mug", "video", "flask"]  # 0, 2 and 8 left
    assert response.context["chart"]["top"]["quantity"][0] == 2
    cancelled = client.get(reverse("rewards:mall_report"))
    assert cancelled.status_code == 200


def test_the_mall_report_downloads_every_table(client, staff, world):
    client.force_login(staff("agent"))
    url = reverse("rewards:mall_export")
    for table, first in [("rewards", "Code"), ("months", "Month"), ("low_stock", "Code")]:
        as_csv = client.get(url, {"table": table, "format": "csv"})
        assert next(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))[0] == first
        as_xlsx = client.get(url, {"table": table, "format": "xlsx"})
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
        assert next(sheet.values)[0] == first
    rows = list(csv.reader(io.StringIO(client.get(url, {"table": "rewards"}).content.decode("utf-8-sig"))))
    assert ["flask", "Vacuum flask", "Physical gift", "1", "1", "1000", "0.00", "0"] in rows


# --------------------------------------------------------------------------- badges


def test_a_badge_is_saved_with_the_fields_of_its_rule_kind(client, staff, db):
    client.force_login(staff("marketer"))
    data = {"code": "big", "name": "大户", "icon": "💎", "color": "#112233", "position": "1", "rule_kind": "spend"}
    response = client.post(reverse("rewards:badge_new"), data)
    assert response.status_code == 422 and 'data-testid="error-amount"' in response.content.decode()
    response = client.post(reverse("rewards:badge_new"), {**data, "amount": "5000", "is_active": "on"})
    assert response.status_code == 302
    badge = Badge.objects.get(code="big")
    assert badge.rule == {"kind": "spend", "amount": "5000.00"} and badge.color == "#112233"
    listed = client.get(reverse("rewards:badges")).content.decode()
    assert "Spent 5000.00 in all (net of refunds)" in listed


def test_the_badge_list_counts_holders(client, staff, world):
    MemberBadge.objects.create(member=world.member, badge=world.badge, awarded_at=clock.now())
    MemberBadge.objects.create(member=world.buyer, badge=world.badge, awarded_at=clock.now())
    client.force_login(staff("agent"))
    [(badge, rule)] = client.get(reverse("rewards:badges")).context["rows"]
    assert badge.holders_n == 2 and rule == "Made a first purchase"


def test_an_invalid_badge_rule_is_refused_on_the_form(client, staff, db):
    client.force_login(staff("marketer"))
    data = {"code": "x", "name": "x", "icon": "🏅", "color": "#c9a227", "rule_kind": "purchases", "count": "1"}
    response = client.post(reverse("rewards:badge_new"), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert 'data-testid="error-rule_kind"' in body and "The badge rule is not valid" in body
    assert not Badge.objects.exists()


# --------------------------------------------------------------------------- the member page


def member_page(client, member) -> str:
    return client.get(reverse("members:detail", args=[member.pk])).content.decode()


def test_the_member_page_shows_coupons_orders_badges_and_the_streak(client, staff, world):
    MemberBadge.objects.create(member=world.member, badge=world.badge, awarded_at=clock.now())
    today = clock.now()
    services.do_check_in(member=world.member, at=today - dt.timedelta(days=1))
    services.do_check_in(member=world.member, at=today)
    client.force_login(staff("agent"))
    body = member_page(client, world.member)
    assert 'data-section="Points mall"' in body and 'data-section="Coupons"' in body
    assert codes.display(world.coupon.code) in body
    assert world.confirmed.number in body and world.voucher.number in body
    assert 'data-testid="section-badge"' in body and "First purchase" in body
    assert "2 days in a row" in body
    assert reverse("rewards:redeem", args=[world.member.pk]) in body
    assert reverse("rewards:member_issue", args=[world.member.pk]) in body
    # A cashier may redeem but not issue coupons by hand; a promoter sees neither section's content.
    client.force_login(staff("cashier"))
    body = member_page(client, world.member)
    assert reverse("rewards:redeem", args=[world.member.pk]) in body
    assert reverse("rewards:member_issue", args=[world.member.pk]) not in body
    client.force_login(staff("promoter"))
    sections = member_page(client, world.member).split('data-testid="sections"')[1]
    assert 'data-section="Points mall"' in sections
    assert world.confirmed.number not in sections and codes.display(world.coupon.code) not in sections


def test_the_streak_says_when_it_was_broken(client, staff, world):
    services.do_check_in(member=world.buyer, at=clock.now() - dt.timedelta(days=3))
    client.force_login(staff("agent"))
    body = member_page(client, world.buyer)
    assert "0 days in a row · last check-in" in body
    assert "Never checked in" in member_page(client, world.other)


def test_the_timeline_words_every_rewards_entry(client, staff, world, store):
    services.do_cancel_order(order=world.confirmed, reason="缺货")
    services.do_use_voucher(order=world.voucher)
    client.force_login(staff("supervisor"))
    body = member_page(client, world.member)
    assert f"Redeemed 1 × 保温杯 for 1000 points (order {world.confirmed.number})." in body
    assert f"Order {world.confirmed.number} (保温杯) cancelled: 缺货." in body
    assert f"Voucher of order {world.voucher.number} (免费洗车) used." in body
    assert "1000 points returned: Order" in body
    code = world.coupon.code
    timeline = body.split('data-testid="timeline"')[1].split("</section>")[0]
    assert f"code …{code[-4:]}" in timeline and codes.display(code) not in timeline
    sentences = {
        "reward_fulfilled": ({"order": "R1", "reward": "杯"}, "Order R1 (杯) handed over or delivered."),
        "coupons_redeemed": (
            {"codes": ["K7QM-4XZP-9HTR"], "discount": "20.00", "store": "SH001"},
            "Used coupons …9HTR at store SH001: 20.00 off.",
        ),
        "coupon_unredeemed": (
            {"batch": "满减", "reason": "refund"},
            "A use of coupon “满减” was taken back (a full refund).",
        ),
        "badge_awarded": ({"badge": "首单", "code": "first"}, "Badge “首单” awarded."),
        "coupon_issued": (
            {"batch": "满减", "code": "K7QM-4XZP-9HTR", "source": "manual"},
            "Coupon “满减” received (Issued by staff), code …9HTR.",
        ),
    }
    for kind, (data, sentence) in sentences.items():
        assert registered_timeline_sentence(kind)(data) == sentence


def test_the_member_issue_page_issues_and_returns_to_the_member(client, staff, world):
    client.force_login(staff("agent"))
    response = client.post(reverse("rewards:member_issue", args=[world.buyer.pk]), {"batch": str(world.batch.pk)})
    assert response["Location"] == reverse("members:detail", args=[world.buyer.pk])
    assert _holds(world.buyer, world.batch)
    response = client.post(reverse("rewards:member_issue", args=[world.buyer.pk]), {"batch": str(world.batch.pk)})
    assert response.status_code == 422 and "A member may hold 1 of this coupon" in response.content.decode()


def test_the_staff_member_who_redeems_has_a_store_or_not(client, world):
    agent = make_staff("agent")  # no store: the whole catalog, any pick-up store
    client.force_login(agent)
    page = client.get(reverse("rewards:redeem_reward", args=[world.buyer.pk, world.gift.pk]))
    assert page.context["store"] is None
    assert world.store in page.context["form"].fields["pickup_store"].queryset


@pytest.fixture
def tiers_live(db):
    from patron.tiers import services as tier_services
    from tests.tiers.models import ladder

    model = tier_services.do_create_model(name="测试等级", config=ladder())
    tier_services.do_go_live(model=model)
    tier_services.forget_live_model()
    return tier_services


def test_rewards_for_tiers_are_chosen_by_checkbox_and_offered_to_those_tiers(client, staff, world, tiers_live):
    client.force_login(staff("marketer"))
    page = client.get(reverse("rewards:new")).content.decode()
    for code in ("base", "silver", "gold", "diamond"):
        assert f'name="eligible_tiers" value="{code}"' in page
    assert "Gold (gold)" in page
    response = client.post(reverse("rewards:new"), new_reward_data(eligible_tiers=["gold", "diamond"]))
    assert response.status_code == 302
    assert Reward.objects.get(code="umbrella").eligible_tiers == ["gold", "diamond"]
    tiers_live.do_set_override(
        member=world.buyer, tier_code="gold", until=clock.now() + dt.timedelta(days=30), reason="status match"
    )
    client.force_login(staff("agent"))
    offered = [r.code for r, _ok in client.get(reverse("rewards:redeem", args=[world.buyer.pk])).context["rows"]]
    assert "umbrella" in offered
    offered = [r.code for r, _ok in client.get(reverse("rewards:redeem", args=[world.other.pk])).context["rows"]]
    assert "umbrella" not in offered


def test_coupons_are_issued_to_the_members_of_a_tier(client, staff, world, tiers_live):
    tiers_live.do_set_override(
        member=world.other, tier_code="gold", until=clock.now() + dt.timedelta(days=30), reason="status match"
    )
    client.force_login(staff("marketer"))
    url = reverse("rewards:batch_issue_group", args=[world.batch.pk])
    assert client.post(url, {"group": "tier", "tier": "gold"}).status_code == 302
    assert [c.member for c in Coupon.objects.filter(batch=world.batch).exclude(member=world.member)] == [world.other]
    assert client.post(url, {"group": "tier", "tier": "base"}).status_code == 302
    assert _holds(world.buyer, world.batch)
    assert Coupon.objects.filter(batch=world.batch, member=world.other).count() == 1  # gold, not base


def test_an_image_is_replaced_or_removed_on_edit(client, staff, world):
    client.force_login(staff("marketer"))
    url = reverse("rewards:edit", args=[world.gift.pk])
    assert client.get(reverse("rewards:image", args=[world.gift.pk])).status_code == 404
    data = {**_edit_reward(world), "image": SimpleUploadedFile("a.jpg", JPEG)}
    assert client.post(url, data).status_code == 302
    assert reward_of(world.gift).image.name.endswith(".jpg")
    served = client.get(reverse("rewards:image", args=[world.gift.pk]))
    assert served["Content-Type"] == "image/jpeg"
    assert b"".join(served.streaming_content).startswith(b"\xff\xd8\xff")  # read to the end: the file is closed
    page = client.get(url).content.decode()
    assert 'name="clear_image"' in page and 'data-testid="reward-image"' in page
    assert client.post(url, {**_edit_reward(world), "clear_image": "on"}).status_code == 302
    assert not reward_of(world.gift).image
    assert reward_of(world.gift).name == "新保温杯"
