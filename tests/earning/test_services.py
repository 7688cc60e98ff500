"""Earning services: quotes read, earns consume caps and post journals, rule changes are audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from patron.core import clock
from patron.core.errors import NotFound, ValidationFailed
from patron.core.models import AuditEntry
from patron.earning import engine, queries, services
from patron.earning.models import EarningRule, MemberRuleUsage, RuleBudget
from patron.ledger import audit
from patron.ledger import queries as ledger_queries
from patron.ledger.models import Journal, Lot
from patron.members import services as member_services
from tests.earning.rules import make_rule, one_point_per_yuan
from tests.factories import make_member, make_sale

T0 = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in Shanghai


@pytest.fixture(autouse=True)
def _invariants_hold(db):
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


@pytest.fixture(autouse=True)
def _at_t0():
    with clock.frozen(T0):
        yield


@pytest.fixture
def member(db):
    return make_member()


def basket(amount: str = "100.00", at: dt.datetime = T0, store: str = "SH001", lines=()) -> engine.Basket:
    return engine.Basket(
        store_code=store, channel="store", at=at, amount=Decimal(amount), currency="CNY", lines=tuple(lines)
    )


def earn(member, amount: str = "100.00", at: dt.datetime = T0, **kw):
    quote = services.quote(member, basket(amount, at))
    return quote, services.do_earn_for_quote(member, quote, at=at, **kw)


def bonus(points: int = 100, **config):
    return make_rule("bonus", kind="fixed_bonus", points=points, **config)


# --------------------------------------------------------------------------- quote


def test_quote_consumes_nothing(member):
    one_point_per_yuan()
    rule = bonus(100, caps={"per_member_day": 150}, budget=1000)
    first = services.quote(member, basket())
    second = services.quote(member, basket())
    assert first == second
    assert first.total == 200 and first.by_type == {"purchase": 100, "bonus": 100}
    assert not MemberRuleUsage.objects.exists()
    assert RuleBudget.objects.get(rule=rule).awarded == 0
    assert not Journal.objects.exists()


def test_quote_for_an_anonymous_shopper_uses_no_member_facts(db):
    one_point_per_yuan()
    make_rule("vip", kind="fixed_bonus", points=50, conditions={"member_tags": ["vip"]})
    assert services.quote(None, basket("12.30")).total == 12


def test_quote_reads_the_members_tags_and_attributes(member):
    make_rule("vip", kind="fixed_bonus", points=50, conditions={"member_tags": ["vip"]})
    make_rule("car", kind="fixed_bonus", points=30, conditions={"member_attributes": {"car_owner": True}})
    assert services.quote(member, basket()).total == 0
    member_services.do_tag_member(member=member, tag_name="vip")
    member_services.do_define_attribute(key="car_owner", label="有车", label_en="Car owner", type="boolean")
    member_services.do_set_attributes(member=member, values={"car_owner": "是"})
    assert services.quote(member, basket()).total == 80
    facts = services.member_facts(member)
    assert facts.tags == frozenset({"vip"}) and facts.attributes == {"car_owner": True} and facts.tier is None


def test_quote_applies_caps_against_what_is_already_used(member):
    bonus(100, caps={"per_member_day": 150})
    earn(member)
    quote = services.quote(member, basket())
    assert quote.total == 50 and quote.awards[0].note == "capped at 50 per day"


# --------------------------------------------------------------------------- earning


def test_earn_posts_one_journal_per_point_type_with_the_rules_in_detail(db, store):
    member = make_member()
    sale = make_sale(member, store, amount="88.80", occurred_at=T0)  # before any rule: nothing earned yet
    base = one_point_per_yuan()
    extra = bonus(20)
    quote = services.quote(member, basket("88.80"))
    journals = services.do_earn_for_quote(member, quote, transaction_=sale)
    assert [(j.points, j.transaction_id) for j in journals] == [(88, sale.pk), (20, sale.pk)]
    assert journals[0].detail == {
        "rules": [{"id": base.pk, "name": "1 point per ¥1 (retail)", "points": 88, "type": "purchase"}]
    }
    assert journals[1].detail == {"rules": [{"id": extra.pk, "name": "bonus", "points": 20, "type": "bonus"}]}
    assert journals[0].memo == "1 point per ¥1 (retail)"
    by_type = ledger_queries.balance(member).by_type
    assert by_type["purchase"]["available"] == 88 and by_type["bonus"]["available"] == 20


def test_earn_for_a_sale_counts_caps_on_the_sales_local_day_and_can_be_pending(db, store):
    member = make_member()
    late = T0 + dt.timedelta(hours=11, minutes=30)  # 23:30 in Shanghai, still the 25th
    with clock.frozen(late + dt.timedelta(hours=1)):  # 00:30 on the 26th: the till sends it late
        sale = make_sale(member, store, occurred_at=late)
        bonus(100, caps={"per_member_day": 100})
        quote = services.quote(member, basket(at=sale.occurred_at))
        services.do_earn_for_quote(member, quote, transaction_=sale, pending=True)
    assert MemberRuleUsage.objects.get().period == "d:2026-11-25"
    lot = Lot.objects.get()
    assert lot.pending and lot.earned_at == late


def test_a_daily_cap_holds_across_two_sales(member):
    bonus(100, caps={"per_member_day": 150})
    _quote, first = earn(member)
    _quote, second = earn(member, at=T0 + dt.timedelta(hours=3))
    _quote, third = earn(member, at=T0 + dt.timedelta(hours=4))
    assert [j.points for j in first + second] == [100, 50]
    assert third == []
    assert MemberRuleUsage.objects.get(period="d:2026-11-25").points == 150
    # the next local day starts at 16:00 UTC
    _quote, next_day = earn(member, at=dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC))
    assert [j.points for j in next_day] == [100]


def test_a_monthly_cap_counts_the_local_calendar_month(member):
    bonus(100, caps={"per_member_month": 250})
    points = []
    for day in (1, 2, 3):
        _quote, journals = earn(member, at=dt.datetime(2026, 11, day, 4, tzinfo=dt.UTC))
        points.append(sum(j.points for j in journals))
    assert points == [100, 100, 50]
    # 30 November 16:30 UTC is 1 December in Shanghai
    _quote, december = earn(member, at=dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC))
    assert [j.points for j in december] == [100]
    assert set(MemberRuleUsage.objects.values_list("period", "points")) == {("m:2026-11", 250), ("m:2026-12", 100)}


def test_a_budget_gives_what_is_left_then_nothing(db):
    rule = bonus(100, budget=250)
    awarded = []
    for _ in range(4):
        _quote, journals = earn(make_member())
        awarded.append(sum(j.points for j in journals))
    assert awarded == [100, 100, 50, 0]
    assert RuleBudget.objects.get(rule=rule).awarded == 250
    assert queries.budget_left(rule) == 0


def test_consume_reduces_a_stale_quote_to_what_the_caps_still_allow(member):
    bonus(100, caps={"per_member_day": 150}, budget=1000)
    stale = services.quote(member, basket())
    assert stale.total == 100
    earn(member)  # another till earned in between
    granted = services.consume_caps(member, stale, T0)
    assert granted.total == 50
    assert granted.awards[0].note == "capped at 50 per day"
    assert MemberRuleUsage.objects.get().points == 150
    assert RuleBudget.objects.get().awarded == 150


def test_consume_drops_an_award_whose_rule_is_gone(member):
    rule = bonus(100, caps={"per_member_day": 500})
    quote = services.quote(member, basket())
    RuleBudget.objects.filter(rule=rule).delete()
    EarningRule.objects.filter(pk=rule.pk).delete()
    services.forget_rules()
    granted = services.consume_caps(member, quote, T0)
    assert granted.total == 0 and granted.notes == ("bonus: the rule no longer exists.",)


def test_earning_nothing_posts_nothing(member):
    assert services.do_earn_for_quote(member, engine.EMPTY) == []
    assert not Journal.objects.exists()


def test_usage_is_only_counted_for_rules_with_member_caps(member):
    one_point_per_yuan()
    earn(member)
    assert not MemberRuleUsage.objects.exists()
    assert not RuleBudget.objects.exists()


# --------------------------------------------------------------------------- active rules and the cache


def test_active_rules_follow_changes_at_once_in_this_process(db):
    assert services.active_rules(T0) == []
    rule = one_point_per_yuan()
    assert [r.id for r in services.active_rules(T0)] == [rule.pk]
    services.do_set_rule_enabled(rule=rule, enabled=False, reason="end of promotion")
    assert services.active_rules(T0) == []
    rule.refresh_from_db()
    assert rule.enabled is False and rule.config["enabled"] is False
    services.do_set_rule_enabled(rule=rule, enabled=True)
    assert [r.id for r in services.active_rules(T0)] == [rule.pk]


def test_active_rules_are_cached_between_changes(db, django_assert_num_queries):
    one_point_per_yuan()
    services.active_rules(T0)
    with django_assert_num_queries(0):
        services.active_rules(T0)
        services.quote(None, basket())


def test_active_rules_honour_the_schedule(db):
    make_rule(
        "november", kind="base", rate="1", starts_at="2026-11-01T00:00:00+08:00", ends_at="2026-12-01T00:00:00+08:00"
    )
    assert len(services.active_rules(T0)) == 1
    assert services.active_rules(dt.datetime(2026, 12, 1, 0, tzinfo=dt.UTC)) == []


# --------------------------------------------------------------------------- rule changes


def test_create_rule_is_audited_and_keeps_columns_in_step(db):
    rule = make_rule("weekend", kind="multiplier", factor="2", priority=7, conditions={"days_of_week": [6, 7]})
    assert (rule.enabled, rule.priority) == (True, 7)
    entry = AuditEntry.objects.get(action="earning.rule_create")
    assert entry.object_id == str(rule.pk) and entry.after["name"] == "weekend"
    assert entry.after["config"]["factor"] == "2"


def test_update_rule_is_audited_with_before_and_after(db):
    rule = one_point_per_yuan()
    services.do_update_rule(
        rule=rule, name="2 per ¥1", config={**rule.config, "rate": "2", "priority": 3}, reason="Q4 boost"
    )
    rule.refresh_from_db()
    assert rule.name == "2 per ¥1" and rule.priority == 3
    entry = AuditEntry.objects.get(action="earning.rule_update")
    assert entry.before["config"]["rate"] == "1" and entry.after["config"]["rate"] == "2"
    assert entry.reason == "Q4 boost"
    assert services.quote(None, basket()).total == 200


@pytest.mark.parametrize(
    ("name", "config", "code"),
    [
        ("", {"kind": "base", "rate": "1"}, "invalid_rule"),
        ("x" * 101, {"kind": "base", "rate": "1"}, "invalid_rule"),
        ("ok", {"kind": "base"}, "invalid_rule"),
    ],
)
def test_create_rule_refusals(db, name, config, code):
    with pytest.raises(ValidationFailed) as err:
        services.do_create_rule(name=name, config=config)
    assert err.value.code == code
    assert not EarningRule.objects.exists()


def test_an_invalid_update_changes_nothing(db):
    rule = one_point_per_yuan()
    with pytest.raises(ValidationFailed):
        services.do_update_rule(rule=rule, config={**rule.config, "rate": "-1"})
    rule.refresh_from_db()
    assert rule.config["rate"] == "1"
    assert not AuditEntry.objects.filter(action="earning.rule_update").exists()


def test_a_budget_cannot_go_below_what_the_rule_has_awarded(member):
    rule = bonus(100, budget=1000)
    earn(member)
    earn(make_member())
    with pytest.raises(ValidationFailed) as err:
        services.do_update_rule(rule=rule, config={**rule.config, "budget": 150})
    assert err.value.code == "budget_below_awarded"
    services.do_update_rule(rule=rule, config={**rule.config, "budget": 250})
    assert queries.budget_left(rule) == 50
    services.do_update_rule(rule=rule, config={**rule.config, "budget": None})
    assert queries.budget_left(rule) is None
    _quote, journals = earn(make_member())
    assert [j.points for j in journals] == [100]


def test_updating_a_rule_that_is_gone_is_not_found(db):
    rule = one_point_per_yuan()
    EarningRule.objects.filter(pk=rule.pk).delete()
    with pytest.raises(NotFound):
        services.do_set_rule_enabled(rule=rule, enabled=False)
