"""The till simulator's check of a sale (bench/till_simulator.py, also driven by test_crash.py):
a sale earns one EARN journal per point type, so a sale with a bonus rule (or a tier's
multiplier, which earns bonus points) has two, and the check holds each to the answer's rules."""

from __future__ import annotations

import pytest
from bench import till_simulator as sim

from patron.earning import pos
from patron.earning.api import sale_out
from tests.earning.rules import make_rule, one_point_per_yuan
from tests.factories import make_member, make_sale, make_store

pytestmark = pytest.mark.django_db


def test_a_sale_earning_purchase_and_bonus_points_reads_as_its_answer_says():
    one_point_per_yuan()
    make_rule("开业加赠", kind="fixed_bonus", points=20)
    txn = make_sale(make_member(), make_store(), amount="88.00")
    answer = sale_out(pos.sale_outcome(txn, created=True))

    assert sim._earns_by_type(txn) == {"purchase": 88, "bonus": 20}
    assert sim._answered_by_type(answer) == {"purchase": 88, "bonus": 20}
    assert answer["points_earned"] == 108


def test_an_answer_that_misstates_a_point_type_does_not_match_the_journals():
    one_point_per_yuan()
    txn = make_sale(make_member(), make_store(), amount="50.00")
    answer = sale_out(pos.sale_outcome(txn, created=True))
    answer["rules"] = [{**rule, "type": "bonus"} for rule in answer["rules"]]

    assert sim._earns_by_type(txn) == {"purchase": 50}
    assert sim._answered_by_type(answer) != sim._earns_by_type(txn)
