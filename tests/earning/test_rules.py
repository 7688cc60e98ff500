"""Rule configs are validated with a clear message per mistake."""

from __future__ import annotations

import pytest

from patron.core.errors import ValidationFailed
from patron.earning.rules import RuleConfig, check_rule_config

INVALID = [
    # (case, config, field, message fragment)
    ("unknown kind", {"kind": "cashback"}, "kind", "Input should be"),
    ("base without a rate", {"kind": "base"}, "config", "A base rule needs a rate above 0"),
    ("base with a zero rate", {"kind": "base", "rate": "0"}, "config", "A base rule needs a rate above 0"),
    ("base rate too high", {"kind": "base", "rate": "1001"}, "config", "at most 1000"),
    ("multiplier of 1", {"kind": "multiplier", "factor": "1"}, "config", "factor is above 1 and at most 20"),
    ("multiplier of 21", {"kind": "multiplier", "factor": "21"}, "config", "factor is above 1 and at most 20"),
    (
        "multiplier with a rate",
        {"kind": "multiplier", "factor": "2", "rate": "1"},
        "config",
        "Only a base rule has a rate",
    ),
    (
        "base with a factor",
        {"kind": "base", "rate": "1", "factor": "2"},
        "config",
        "Only a multiplier rule has a factor",
    ),
    ("bonus without points", {"kind": "fixed_bonus"}, "config", "A fixed bonus needs between 1 and"),
    ("bonus of 0", {"kind": "fixed_bonus", "points": 0}, "config", "A fixed bonus needs between 1 and"),
    ("base with points", {"kind": "base", "rate": "1", "points": 5}, "config", "Only a fixed bonus rule"),
    ("unknown field", {"kind": "base", "rate": "1", "cashback": True}, "cashback", "Extra inputs"),
    (
        "unknown condition",
        {"kind": "base", "rate": "1", "conditions": {"weather": "sunny"}},
        "conditions.weather",
        "Extra inputs",
    ),
    (
        "day 0",
        {"kind": "base", "rate": "1", "conditions": {"days_of_week": [0]}},
        "conditions.days_of_week",
        "1 (Monday) to 7 (Sunday)",
    ),
    (
        "empty window",
        {"kind": "base", "rate": "1", "conditions": {"time_window": {"start": "18:00", "end": "18:00"}}},
        "conditions.time_window",
        "starts and ends at the same time",
    ),
    (
        "bad time",
        {"kind": "base", "rate": "1", "conditions": {"time_window": {"start": "25:00", "end": "18:00"}}},
        "conditions.time_window.start",
        "time",
    ),
    (
        "dates backwards",
        {"kind": "base", "rate": "1", "conditions": {"date_range": {"start": "2026-12-01", "end": "2026-11-01"}}},
        "conditions.date_range",
        "ends before it starts",
    ),
    (
        "unknown channel",
        {"kind": "base", "rate": "1", "conditions": {"channels": ["fax"]}},
        "conditions.channels",
        "Unknown channel fax",
    ),
    (
        "empty store code",
        {"kind": "base", "rate": "1", "conditions": {"stores": [" "]}},
        "conditions.stores",
        "empty value",
    ),
    (
        "negative minimum spend",
        {"kind": "base", "rate": "1", "conditions": {"min_spend": "-1"}},
        "conditions.min_spend",
        "greater than or equal to 0",
    ),
    (
        "cap of 0",
        {"kind": "base", "rate": "1", "caps": {"per_transaction": 0}},
        "caps.per_transaction",
        "greater than or equal to 1",
    ),
    (
        "daily cap above monthly",
        {"kind": "base", "rate": "1", "caps": {"per_member_day": 500, "per_member_month": 100}},
        "caps",
        "daily cap is above the monthly cap",
    ),
    ("budget of 0", {"kind": "base", "rate": "1", "budget": 0}, "budget", "greater than or equal to 1"),
    (
        "schedule backwards",
        {"kind": "base", "rate": "1", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-01T00:00:00Z"},
        "config",
        "ends before it starts",
    ),
    ("naive schedule", {"kind": "base", "rate": "1", "starts_at": "2026-12-01T00:00:00"}, "starts_at", "timezone"),
    ("best-of without group", {"kind": "base", "rate": "1", "combine": "best_of"}, "config", "needs a group name"),
    (
        "group on a stack rule",
        {"kind": "base", "rate": "1", "group": "g"},
        "config",
        "Only best-of rules belong to a group",
    ),
    ("adjustment points", {"kind": "base", "rate": "1", "point_type": "adjustment"}, "point_type", "Input should be"),
    ("priority out of range", {"kind": "base", "rate": "1", "priority": -1}, "priority", "greater than or equal to 0"),
]


@pytest.mark.parametrize(("config", "field", "fragment"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_configs_are_refused_with_a_message_for_the_field(config, field, fragment):
    with pytest.raises(ValidationFailed) as err:
        check_rule_config(config)
    assert err.value.code == "invalid_rule"
    assert field in err.value.fields, err.value.fields
    assert fragment in err.value.fields[field]
    assert fragment in err.value.message


def test_point_type_defaults_by_kind():
    assert RuleConfig.model_validate({"kind": "base", "rate": "1"}).point_type == "purchase"
    assert RuleConfig.model_validate({"kind": "multiplier", "factor": "2"}).point_type == "bonus"
    assert RuleConfig.model_validate({"kind": "fixed_bonus", "points": 5}).point_type == "bonus"
    assert RuleConfig.model_validate({"kind": "fixed_bonus", "points": 5, "point_type": "purchase"}).point_type == (
        "purchase"
    )


def test_a_valid_config_round_trips_through_json():
    config = check_rule_config(
        {
            "kind": "multiplier",
            "factor": "2.5",
            "conditions": {
                "stores": ["SH001", "SH001", "BJ001"],
                "days_of_week": [7, 6, 6],
                "time_window": {"start": "22:00", "end": "02:00"},
                "member_attributes": {"car_owner": True},
                "min_spend": "99.90",
            },
            "caps": {"per_member_day": 100, "per_member_month": 1000},
            "budget": 50000,
            "combine": "best_of",
            "group": " weekend ",
            "starts_at": "2026-11-01T00:00:00+08:00",
        }
    )
    assert config.conditions.stores == ("SH001", "BJ001")
    assert config.conditions.days_of_week == (6, 7)
    assert config.conditions.time_window is not None and config.conditions.time_window.crosses_midnight
    assert config.group == "weekend"
    assert RuleConfig.model_validate(config.as_json()) == config
