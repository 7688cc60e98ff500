"""The earning rules' console pages: every page walked by every role, then what the pages do."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.earning import queries, services
from patron.earning.forms import RuleEditForm, RuleForm
from patron.earning.models import EarningRule
from patron.earning.rules import RuleConfig
from patron.ledger.models import Journal
from tests.earning.rules import make_rule, one_point_per_yuan
from tests.factories import make_member, make_sale
from tests.roles import Case, url_of, walk, walk_anonymous

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]
SATURDAY_NOON = "2026-11-28T12:00"  # local (Asia/Shanghai)
WEDNESDAY_NOON = "2026-11-25T12:00"


@pytest.fixture
def world(store):
    retail = one_point_per_yuan()
    weekend = services.do_create_rule_from_preset(preset_key="weekend_double")
    return SimpleNamespace(store=store, retail=retail, weekend=weekend, member=make_member(store=store))


def config_of(rule: EarningRule) -> dict[str, Any]:
    return EarningRule.objects.get(pk=rule.pk).config


def _as_post(form: RuleForm, changes: dict[str, Any]) -> dict[str, Any]:
    """What a browser posts for the form as drawn, with `changes` typed over it."""
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            value = ""
        data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k in changes}


def blank_data(**changes: Any) -> dict[str, Any]:
    return _as_post(RuleForm(), {"name": "test rule", **changes})


def edit_data(rule: EarningRule, **changes: Any) -> dict[str, Any]:
    rule = EarningRule.objects.get(pk=rule.pk)
    form = RuleEditForm(initial=RuleForm.initial_from(rule.name, RuleConfig.model_validate(rule.config)))
    return _as_post(form, changes)


# --------------------------------------------------------------------------- every page by role


CASES = [
    Case("list", Perm.POINTS_VIEW, url_of("earning:list"), query={"state": "disabled"}),
    Case("preview", Perm.POINTS_VIEW, url_of("earning:preview"), query={"amount": "100", "at": SATURDAY_NOON}),
    Case("presets", Perm.PROGRAM_MANAGE, url_of("earning:presets")),
    Case("new page", Perm.PROGRAM_MANAGE, url_of("earning:new")),
    Case(
        "new",
        Perm.PROGRAM_MANAGE,
        url_of("earning:new"),
        lambda w: blank_data(name="role walk", rate="1"),
        lambda w: EarningRule.objects.filter(name="role walk").exists(),
    ),
    Case(
        "from preset",
        Perm.PROGRAM_MANAGE,
        lambda w: reverse("earning:from_preset", args=["big_basket_bonus"]),
        lambda w: {
            "big_basket_bonus-name": "role walk",
            "big_basket_bonus-min_spend": "300",
            "big_basket_bonus-points": "50",
        },
        lambda w: EarningRule.objects.filter(name="role walk", preset="big_basket_bonus").exists(),
    ),
    Case("edit page", Perm.PROGRAM_MANAGE, url_of("earning:edit", "retail")),
    Case(
        "edit",
        Perm.PROGRAM_MANAGE,
        url_of("earning:edit", "retail"),
        lambda w: edit_data(w.retail, rate="7"),
        lambda w: config_of(w.retail)["rate"] == "7",
    ),
    Case(
        "switch",
        Perm.PROGRAM_MANAGE,
        url_of("earning:switch", "weekend"),
        lambda w: {"enabled": "off", "reason": "role walk"},
        lambda w: not EarningRule.objects.get(pk=w.weekend.pk).enabled,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    walk(client, staff(role), role, case, world)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    walk_anonymous(client, case, world)


def test_navigation_offers_the_rules_to_everyone_who_sees_points(client, staff):
    for role in Role:
        client.force_login(staff(role.value))
        nav = client.get(reverse("console:dashboard")).context["nav"]
        urls = [url for url, _name, _label in nav]
        assert (reverse("earning:list") in urls) == (role in roles_with(Perm.POINTS_VIEW)), role
        names = [name for _url, name, _label in nav]
        if "ledger:program" in names:  # right after the points program
            assert names.index("earning:list") == names.index("ledger:program") + 1


def test_the_list_offers_no_editing_to_roles_that_may_only_read(client, staff, world):
    client.force_login(staff("cashier"))
    body = client.get(reverse("earning:list")).content.decode()
    assert world.retail.name in body
    assert 'data-testid="switch-form"' not in body and 'data-testid="new-rule"' not in body
    assert reverse("earning:edit", args=[world.retail.pk]) not in body


# --------------------------------------------------------------------------- the list


def test_list_shows_what_each_rule_gives_its_conditions_caps_budget_and_schedule(client, staff, world):
    capped = make_rule(
        "雨天加赠",
        kind="fixed_bonus",
        points=50,
        conditions={"stores": ["SH001"], "days_of_week": [6, 7], "time_window": {"start": "18:00", "end": "22:00"}},
        caps={"per_member_day": 50},
        budget=1000,
        starts_at="2026-12-01T00:00:00+08:00",
        priority=40,
    )
    client.force_login(staff("marketer"))
    response = client.get(reverse("earning:list"))
    rows = {row.rule.pk: row for row in response.context["rows"]}
    assert [row.rule.pk for row in response.context["rows"]] == [world.retail.pk, world.weekend.pk, capped.pk]
    assert rows[world.retail.pk].gives == "1 point per ¥1 · Purchase points"
    assert rows[world.retail.pk].combine == "best of group base"
    assert rows[world.weekend.pk].gives == "×2 the base points · Bonus points"
    assert rows[world.weekend.pk].conditions == ["Days: Sat, Sun"]
    row = rows[capped.pk]
    assert row.gives == "+50 points · Bonus points"
    assert row.conditions == ["Stores: SH001", "Days: Sat, Sun", "Time: 18:00–22:00"]
    assert row.caps == ["50 per member a day"]
    assert row.budget == (0, 1000)
    assert row.schedule == "From 2026-12-01 00:00"
    body = response.content.decode()
    assert "Every sale" in body and "1000" in body


def test_list_counts_the_budget_a_rule_has_given(client, staff, store):
    rule = one_point_per_yuan()
    services.do_update_rule(rule=rule, config={**rule.config, "budget": 1000})
    make_sale(make_member(store=store), store, amount="120.00")
    client.force_login(staff("analyst"))
    row = client.get(reverse("earning:list")).context["rows"][0]
    assert row.budget == (120, 880) == (120, queries.budget_left(rule))


def test_list_filters_rules_that_are_on_or_off(client, staff, world):
    services.do_set_rule_enabled(rule=world.weekend, enabled=False)
    client.force_login(staff("admin"))
    listed = {
        state: [row.rule.pk for row in client.get(reverse("earning:list"), {"state": state}).context["rows"]]
        for state in ("", "enabled", "disabled", "nonsense")
    }
    assert listed == {
        "": [world.retail.pk, world.weekend.pk],
        "enabled": [world.retail.pk],
        "disabled": [world.weekend.pk],
        "nonsense": [world.retail.pk, world.weekend.pk],
    }


def test_a_rule_whose_stored_config_is_broken_shows_as_invalid_and_can_be_repaired(client, staff, world):
    EarningRule.objects.filter(pk=world.weekend.pk).update(config={"kind": "bogus"})  # a hand edit of the table
    client.force_login(staff("admin"))
    states = {row.rule.pk: row.state for row in client.get(reverse("earning:list")).context["rows"]}
    assert states[world.weekend.pk] == "invalid"
    page = client.get(reverse("earning:edit", args=[world.weekend.pk]))
    assert page.status_code == 200 and 'data-testid="invalid-config"' in page.content.decode()
    response = client.post(reverse("earning:edit", args=[world.weekend.pk]), blank_data(name="repaired", rate="1"))
    assert response.status_code == 302
    assert config_of(world.weekend)["kind"] == "base"


def test_unknown_rules_and_presets_are_404(client, staff):
    client.force_login(staff("admin"))
    assert client.get(reverse("earning:edit", args=[999999])).status_code == 404
    assert client.post(reverse("earning:switch", args=[999999]), {"enabled": "off"}).status_code == 404
    assert client.post(reverse("earning:from_preset", args=["no_such_preset"])).status_code == 404


# --------------------------------------------------------------------------- new rules


def test_create_from_a_preset_with_its_parameters(client, staff):
    client.force_login(staff("marketer"))
    page = client.get(reverse("earning:presets"))
    assert [form.preset.key for form in page.context["preset_forms"]][:2] == ["retail_base", "weekend_double"]
    response = client.post(
        reverse("earning:from_preset", args=["category_multiplier"]),
        {"category_multiplier-category": "饮料", "category_multiplier-factor": "3", "category_multiplier-name": ""},
    )
    rule = EarningRule.objects.get(preset="category_multiplier")
    assert response.status_code == 302 and response["Location"] == reverse("earning:edit", args=[rule.pk])
    assert rule.name == "3× points on a category"
    assert rule.config["kind"] == "multiplier" and rule.config["factor"] == "3"
    assert rule.config["conditions"]["categories"] == ["饮料"]
    assert AuditEntry.objects.filter(action="earning.rule_create", object_id=str(rule.pk)).exists()


@pytest.mark.parametrize(
    ("key", "data", "field", "message"),
    [
        ("category_multiplier", {"factor": "3"}, "category", "This field is required."),
        ("category_multiplier", {"category": "饮料", "factor": "0.5"}, None, "A multiplier's factor is above 1"),
        ("happy_hour", {"start": "18:00", "end": "18:00", "factor": "2"}, "end", "starts and ends at the same time"),
        ("store_opening", {"store": "SH001", "points": "0", "days": "14"}, "points", "At least 1."),
        ("store_opening", {"store": "SH001", "points": "200", "days": "14", "starts": "tomorrow"}, None, "not valid"),
        (
            "store_opening",
            {"store": "SH001", "points": "200", "days": "10000000000", "starts": "2026-01-01"},
            None,
            "not valid",
        ),
    ],
)
def test_a_preset_with_bad_parameters_shows_why_and_creates_nothing(client, staff, key, data, field, message):
    client.force_login(staff("admin"))
    response = client.post(reverse("earning:from_preset", args=[key]), {f"{key}-{k}": v for k, v in data.items()})
    assert response.status_code == 422
    bound = next(form for form in response.context["preset_forms"] if form.preset.key == key)
    errors = bound.errors.get(field or "__all__")
    assert errors and message in " ".join(errors), bound.errors
    assert not EarningRule.objects.exists()


def test_create_a_blank_rule_with_every_condition(client, staff):
    client.force_login(staff("admin"))
    data = blank_data(
        name="会员日",
        kind="multiplier",
        point_type="bonus",
        factor="1.5",
        stores="SH001, SH002",
        channels=["store", "online"],
        categories="饮料，零食",
        skus="",
        days_of_week=["3"],
        date_from="2026-01-01",
        date_to="2026-12-31",
        time_from="22:00",
        time_to="02:00",
        member_tags="VIP",
        tiers="gold",
        member_attributes="city=上海\nsubscribed=true",
        min_spend="50",
        cap_per_transaction="500",
        cap_per_member_month="2000",
        budget="100000",
        starts_at="2026-01-01T00:00",
        ends_at="2027-01-01T00:00",
        combine="best_of",
        group="promo",
        priority="60",
        enabled="on",
    )
    response = client.post(reverse("earning:new"), data)
    assert response.status_code == 302, response.context["form"].errors
    rule = EarningRule.objects.get(name="会员日")
    assert RuleConfig.model_validate(rule.config) == RuleConfig.model_validate(
        {
            "kind": "multiplier",
            "point_type": "bonus",
            "factor": "1.5",
            "conditions": {
                "stores": ["SH001", "SH002"],
                "channels": ["store", "online"],
                "categories": ["饮料", "零食"],
                "days_of_week": [3],
                "date_range": {"start": "2026-01-01", "end": "2026-12-31"},
                "time_window": {"start": "22:00", "end": "02:00"},
                "member_tags": ["VIP"],
                "tiers": ["gold"],
                "member_attributes": {"city": "上海", "subscribed": True},
                "min_spend": "50",
            },
            "caps": {"per_transaction": 500, "per_member_month": 2000},
            "budget": 100000,
            "starts_at": "2025-12-31T16:00:00Z",  # midnight in Shanghai
            "ends_at": "2026-12-31T16:00:00Z",
            "combine": "best_of",
            "group": "promo",
            "priority": 60,
        }
    )
    assert (rule.enabled, rule.priority) == (True, 60)
    # The edit page draws the same rule back: saving it untouched changes nothing.
    before = config_of(rule)
    again = client.post(reverse("earning:edit", args=[rule.pk]), edit_data(rule))
    assert again.status_code == 302
    assert config_of(rule) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"time_from": "18:00", "time_to": "18:00"}, "time_to", "starts and ends at the same time"),
        ({"time_from": "18:00"}, "time_to", "This field is required."),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "date_to", "ends before it starts"),
        ({"cap_per_transaction": "0"}, "cap_per_transaction", "At least 1."),
        ({"cap_per_member_day": "100", "cap_per_member_month": "50"}, "cap_per_member_day", "above the monthly cap"),
        ({"rate": "1.23456"}, "rate", "At most 4 decimal places."),
        ({"budget": "0"}, "budget", "At least 1."),
        ({"priority": "20000"}, "priority", "At most 10000."),
        ({"stores": "x" * 70}, "stores", "longer than 64 characters"),
        ({"combine": "best_of", "group": ""}, None, "needs a group name"),
        ({"rate": ""}, None, "A base rule needs a rate"),
        ({"name": "   "}, "name", "This field is required."),
        ({"member_attributes": "vip"}, "member_attributes", "key=value"),
        ({"starts_at": "2026-02-01T00:00", "ends_at": "2026-01-01T00:00"}, None, "ends before it starts"),
    ],
)
def test_a_blank_rule_with_a_bad_config_shows_the_error_on_its_field_and_writes_nothing(
    client, staff, changes, field, message
):
    client.force_login(staff("marketer"))
    response = client.post(reverse("earning:new"), blank_data(**{"rate": "1", **changes}))
    assert response.status_code == 422
    errors = response.context["form"].errors.get(field or "__all__")
    assert errors and message in " ".join(errors), response.context["form"].errors
    testid = f"error-{field}" if field else "form-errors"
    assert f'data-testid="{testid}"' in response.content.decode()
    assert not EarningRule.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="earning.").exists()


# --------------------------------------------------------------------------- editing and switching


def test_editing_a_rule_changes_it_and_leaves_an_audit_row(client, staff, world):
    client.force_login(staff("marketer"))
    page = client.get(reverse("earning:edit", args=[world.retail.pk]))
    assert page.context["form"]["rate"].value() == 1
    response = client.post(
        reverse("earning:edit", args=[world.retail.pk]),
        edit_data(world.retail, name="基础积分", rate="2", reason="double the base rate"),
    )
    assert response.status_code == 302 and response["Location"] == reverse("earning:list")
    rule = EarningRule.objects.get(pk=world.retail.pk)
    assert rule.name == "基础积分" and rule.config["rate"] == "2"
    assert rule.updated_by == page.wsgi_request.user.username
    audit = AuditEntry.objects.get(action="earning.rule_update", object_id=str(rule.pk))
    assert audit.reason == "double the base rate"
    assert audit.before["config"]["rate"] == "1" and audit.after["config"]["rate"] == "2"
    assert audit.actor == page.wsgi_request.user


def test_a_budget_below_what_the_rule_gave_is_refused_on_the_budget_field(client, staff, store):
    rule = one_point_per_yuan()
    services.do_update_rule(rule=rule, config={**rule.config, "budget": 1000})
    make_sale(make_member(store=store), store, amount="300.00")
    client.force_login(staff("admin"))
    response = client.post(reverse("earning:edit", args=[rule.pk]), edit_data(rule, budget="100"))
    assert response.status_code == 422
    assert response.context["form"].errors["budget"] == [
        "The rule has already awarded 300 points; its budget cannot be less."
    ]
    assert config_of(rule)["budget"] == 1000


def test_switching_a_rule_off_and_on_again(client, staff, world):
    client.force_login(staff("admin"))
    url = reverse("earning:switch", args=[world.weekend.pk])
    back = reverse("earning:edit", args=[world.weekend.pk])
    off = client.post(url, {"enabled": "off", "reason": "campaign paused", "next": back}, follow=True)
    assert off.redirect_chain[0][0] == back
    assert "switched off" in off.content.decode()
    rule = EarningRule.objects.get(pk=world.weekend.pk)
    assert not rule.enabled and rule.config["enabled"] is False
    assert AuditEntry.objects.get(action="earning.rule_disable").reason == "campaign paused"
    assert world.weekend.pk not in [r.id for r in services.active_rules()]

    on = client.post(url, {"enabled": "on", "next": "https://evil.example/"})
    assert on["Location"] == reverse("earning:list")
    assert EarningRule.objects.get(pk=world.weekend.pk).enabled
    assert AuditEntry.objects.filter(action="earning.rule_enable").count() == 1


def test_a_switch_without_on_or_off_changes_nothing(client, staff, world):
    client.force_login(staff("admin"))
    response = client.post(reverse("earning:switch", args=[world.weekend.pk]), {"enabled": "maybe"}, follow=True)
    assert "Say whether to switch the rule on or off." in response.content.decode()
    assert EarningRule.objects.get(pk=world.weekend.pk).enabled


# --------------------------------------------------------------------------- the preview


def _preview(client, **query: str):
    return client.get(reverse("earning:preview"), {"store_code": "SH001", "channel": "store", **query})


@pytest.mark.parametrize(("at", "total"), [(WEDNESDAY_NOON, 100), (SATURDAY_NOON, 200)])
def test_preview_gives_one_point_per_yuan_and_double_at_the_weekend(client, staff, world, at, total):
    journals = Journal.objects.count()
    client.force_login(staff("cashier"))
    response = _preview(client, at=at, amount="100.00")
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.quote.total == total
    given = {row.rule.pk: row.award.points if row.award else None for row in response.context["rows"]}
    assert given == {world.retail.pk: 100, world.weekend.pk: 100 if total == 200 else None}
    body = response.content.decode()
    assert f'<strong data-testid="preview-total">{total}</strong>' in body
    assert Journal.objects.count() == journals  # a preview posts nothing


def test_preview_adds_up_the_lines_and_reads_the_member(client, staff, world):
    client.force_login(staff("agent"))
    lines = {
        "line1_sku": "A1",
        "line1_category": "饮料",
        "line1_quantity": "2",
        "line1_amount": "30.50",
        "line2_sku": "B2",
        "line2_amount": "19.80",
    }
    response = _preview(client, at=WEDNESDAY_NOON, member_no=world.member.member_no, **lines)
    preview = response.context["preview"]
    assert preview.basket.amount == Decimal("50.30") and len(preview.basket.lines) == 2
    assert preview.member == world.member
    assert preview.quote.total == 50
    assert world.member.member_no in response.content.decode()


def test_preview_shows_the_notes_of_a_capped_rule(client, staff, world):
    services.do_update_rule(rule=world.weekend, config={**world.weekend.config, "caps": {"per_transaction": 30}})
    client.force_login(staff("analyst"))
    response = _preview(client, at=SATURDAY_NOON, amount="100")
    preview = response.context["preview"]
    assert preview.quote.total == 130
    awards = {a.rule_id: a for a in preview.quote.awards}
    assert awards[world.weekend.pk].note == "capped at 30 per transaction"
    assert "capped at 30 per transaction" in response.content.decode()


def test_preview_of_a_switched_off_rule_and_one_not_yet_started(client, staff, world):
    services.do_set_rule_enabled(rule=world.weekend, enabled=False)
    later = make_rule("opening", kind="fixed_bonus", points=88, starts_at="2026-12-01T00:00:00+08:00")
    client.force_login(staff("admin"))
    response = _preview(client, at=SATURDAY_NOON, amount="100")
    states = {row.rule.pk: (row.state, row.award) for row in response.context["rows"]}
    assert states[world.weekend.pk] == ("off", None)
    assert states[later.pk] == ("scheduled", None)
    assert response.context["preview"].quote.total == 100
    december = _preview(client, at="2026-12-05T12:00", amount="100")
    assert december.context["preview"].quote.total == 188


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({}, "amount", "Give the total or at least one line."),
        ({"line1_sku": "A1"}, "line1_amount", "A line needs its amount."),
        ({"amount": "-5"}, "amount", "greater than or equal to 0"),
        ({"amount": "10", "member_no": "M-NOBODY"}, "member_no", "Member not found."),
        ({"amount": "10", "at": "someday"}, "at", "Enter a valid date/time."),
        ({"amount": "10", "at": "0001-01-01T00:00"}, "at", "Enter a valid date/time."),  # before UTC's year 1
    ],
)
def test_preview_says_what_is_wrong_with_the_basket(client, staff, world, query, field, message):
    client.force_login(staff("supervisor"))
    response = _preview(client, **query)
    assert response.status_code == 422
    errors = response.context["preview_form"].errors[field]
    assert message in " ".join(errors)
    assert response.context["preview"] is None


# --------------------------------------------------------------------------- languages


@override_settings(LANGUAGE_CODE="zh-hans")
@pytest.mark.parametrize(
    ("url", "english", "chinese"),
    [
        (lambda w: reverse("earning:list"), "Earning rules", "计分规则"),
        (lambda w: reverse("earning:presets"), "New rule from a preset", "从预设新建规则"),
        (lambda w: reverse("earning:new"), "New earning rule", "新建计分规则"),
        (lambda w: reverse("earning:edit", args=[w.retail.pk]), "What it gives", "给多少积分"),
    ],
)
def test_pages_speak_english_and_chinese(client, staff, world, url, english, chinese):
    client.force_login(staff("admin"))
    en = client.get(url(world), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in en and english in en and chinese not in en
    zh = client.get(url(world), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in zh and chinese in zh and english not in zh


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_preview_and_field_errors_speak_chinese(client, staff, world):
    client.force_login(staff("admin"))
    query = {"store_code": "SH001", "at": SATURDAY_NOON, "amount": "100"}
    preview = client.get(reverse("earning:preview"), query, HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = preview.content.decode()
    assert "按样例购物篮预览" in body and '<strong data-testid="preview-total">200</strong>' in body
    refused = client.post(
        reverse("earning:new"), blank_data(rate="1", cap_per_transaction="0"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert refused.context["form"].errors["cap_per_transaction"] == ["不能小于 1。"]
