"""The ledger's console pages: every page walked by every role, then what the pages do."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace
from typing import Any

import openpyxl
import pytest
from django.test import override_settings
from django.urls import reverse

from patron.core import clock
from patron.core.context import Actor, acting_as
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.ledger import audit, program, queries, services
from patron.ledger.forms import ProgramForm
from patron.ledger.models import Adjustment, AdjustmentStatus, Hold, HoldStatus, Journal, JournalKind
from tests.factories import make_member, make_sale, make_staff
from tests.roles import Case, call, url_of, walk

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]
RULES = [
    {"id": 1, "name": "基础积分", "points": 400, "type": "purchase"},
    {"id": 7, "name": "周末双倍", "points": 100, "type": "purchase"},
]


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(db):
    yield
    failed = [c for c in audit.run() if not c.ok]
    assert not failed, [(c.name, c.detail, c.rows) for c in failed]


def as_user(user):
    return acting_as(Actor(user=user, label=user.username))


@pytest.fixture
def world(store):
    member = make_member(name="张伟", store=store)
    sale = make_sale(member, store, amount="100.00", external_id="R-1001")
    # What the sale itself earned, if an earning engine is switched on: the tests count from here.
    before = set(Journal.objects.filter(member=member).values_list("pk", flat=True))
    base = queries.balance(member).total
    earn = services.do_earn(member=member, points=500, transaction_=sale, memo="sale R-1001", detail={"rules": RULES})
    services.do_earn(member=member, points=80, point_type="activity", memo="survey")
    hold = services.do_hold(member=member, points=50, purpose="reward", reference="ORD-1")
    requester = make_staff("agent", username="requester")
    with as_user(requester):
        big = services.do_request_adjustment(member=member, points=5000, reason="goodwill for a lost card")
        other = services.do_request_adjustment(member=member, points=3000, reason="second big one")
    return SimpleNamespace(
        store=store,
        member=member,
        sale=sale,
        before=before,
        base=base,
        earn=earn,
        hold=hold,
        requester=requester,
        big=big,
        other=other,
    )


def available(member) -> int:
    return queries.balance(member).available


# --------------------------------------------------------------------------- every page by role


def _program_form(**changes: Any) -> dict[str, Any]:
    data = {k: v for k, v in ProgramForm.initial_from(program.ProgramConfig()).items()}
    data.update(changes)
    return data


def _status(adjustment: Adjustment) -> str:
    return Adjustment.objects.get(pk=adjustment.pk).status


CASES = [
    Case("member points", Perm.POINTS_VIEW, url_of("ledger:member_points", "member")),
    Case(
        "statement",
        Perm.POINTS_VIEW,
        url_of("ledger:statement", "member"),
        query={"start": "2020-01-01", "end": "2020-12-31", "format": "pdf"},
    ),
    Case(
        "adjust",
        Perm.POINTS_ADJUST,
        url_of("ledger:adjust", "member"),
        lambda w: {"points": "20", "point_type": "adjustment", "reason": "role walk"},
        lambda w: Adjustment.objects.filter(reason="role walk").exists(),
    ),
    Case(
        "void hold",
        Perm.POINTS_REDEEM,
        url_of("ledger:void_hold", "hold"),
        lambda w: {},
        lambda w: Hold.objects.get(pk=w.hold.pk).status == HoldStatus.VOIDED,
    ),
    Case("approvals", Perm.POINTS_APPROVE, url_of("ledger:approvals")),
    Case(
        "approve",
        Perm.POINTS_APPROVE,
        url_of("ledger:approve", "big"),
        lambda w: {"note": ""},
        lambda w: _status(w.big) == AdjustmentStatus.POSTED,
    ),
    Case(
        "reject",
        Perm.POINTS_APPROVE,
        url_of("ledger:reject", "big"),
        lambda w: {"note": "no receipt"},
        lambda w: _status(w.big) == AdjustmentStatus.REJECTED,
    ),
    Case("program page", Perm.PROGRAM_MANAGE, url_of("ledger:program")),
    Case(
        "program save",
        Perm.PROGRAM_MANAGE,
        url_of("ledger:program"),
        lambda w: _program_form(hold_minutes="45"),
        lambda w: program.current().hold_minutes == 45,
    ),
    Case("finance", Perm.FINANCE_VIEW, url_of("ledger:finance")),
    Case("finance export", Perm.FINANCE_VIEW, url_of("ledger:finance_export"), query={"format": "xlsx"}),
    Case("run audit", Perm.FINANCE_VIEW, url_of("ledger:run_audit"), lambda w: {}, status=200),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    program.forget()
    walk(client, staff(role), role, case, world)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    response = call(client, case, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))
    if case.done:
        program.forget()
        assert not case.done(world)


def test_navigation_offers_each_points_page_to_the_roles_that_may_open_it(client, staff):
    pages = {"ledger:approvals": Perm.POINTS_APPROVE, "ledger:program": Perm.PROGRAM_MANAGE}
    pages["ledger:finance"] = Perm.FINANCE_VIEW
    for role in Role:
        client.force_login(staff(role.value))
        nav = [url for url, _name, _label in client.get(reverse("console:dashboard")).context["nav"]]
        for name, perm in pages.items():
            assert (reverse(name) in nav) == (role in roles_with(perm)), (role, name)
        assert "Points" not in [str(label) for label in client.get(reverse("console:dashboard")).context["nav_coming"]]


# --------------------------------------------------------------------------- the member page's section


def test_member_page_shows_the_points_section_with_balances(client, staff, world):
    client.force_login(staff("agent"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    balance = queries.balance(world.member)
    assert 'data-section="Points"' in body
    assert f'<strong data-testid="points-available">{balance.available}</strong>' in body
    assert balance.held == 50
    assert 'data-testid="section-lots"' in body
    assert "ORD-1" in body and 'data-testid="void-hold"' in body  # agents may release holds
    assert reverse("ledger:member_points", args=[world.member.pk]) in body


def test_member_section_offers_no_release_to_a_marketer_and_nothing_to_a_promoter(client, staff, world):
    client.force_login(staff("marketer"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert 'data-testid="points-available"' in body
    assert 'data-testid="void-hold"' not in body
    client.force_login(staff("promoter"))
    body = client.get(reverse("members:detail", args=[world.member.pk])).content.decode()
    assert 'data-testid="points-available"' not in body
    assert "ORD-1" not in body


def test_points_expiring_soon_are_counted_for_30_and_90_days(client, staff, world):
    with clock.frozen(clock.now() - dt.timedelta(days=365 + 300)):  # bonus points live six months
        services.do_earn(member=world.member, points=70, point_type="bonus")
    client.force_login(staff("agent"))
    response = client.get(reverse("ledger:member_points", args=[world.member.pk]))
    # expired already, and not swept yet: not "expiring"
    assert response.context["expiring_30"] == 0
    with clock.frozen(clock.now() - dt.timedelta(days=160)):
        services.do_earn(member=world.member, points=40, point_type="bonus")  # expires in about 20 days
    with clock.frozen(clock.now() - dt.timedelta(days=120)):
        services.do_earn(member=world.member, points=30, point_type="bonus")  # in about 60 days
    response = client.get(reverse("ledger:member_points", args=[world.member.pk]))
    assert response.context["expiring_30"] == 40
    assert response.context["expiring_90"] == 70
    services.run_expiry()


def test_releasing_a_hold_from_the_member_page_goes_back_there(client, staff, world):
    client.force_login(staff("agent"))
    before = available(world.member)
    back = reverse("members:detail", args=[world.member.pk])
    response = client.post(reverse("ledger:void_hold", args=[world.hold.pk]), {"next": back}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == back
    assert available(world.member) == before + 50
    again = client.post(
        reverse("ledger:void_hold", args=[world.hold.pk]), {"next": "https://evil.example/"}, follow=True
    )
    assert again.redirect_chain[0][0] == reverse("ledger:member_points", args=[world.member.pk])
    assert "This hold is already Voided." in again.content.decode()


def test_releasing_an_unknown_hold_is_404(client, staff):
    client.force_login(staff("agent"))
    assert client.post(reverse("ledger:void_hold", args=[999999])).status_code == 404


# --------------------------------------------------------------------------- the member's points page


def test_points_page_lists_movements_newest_first_with_source_rules_and_running_balance(client, staff, world):
    client.force_login(staff("agent"))
    response = client.get(reverse("ledger:member_points", args=[world.member.pk]))
    rows = [r for r in response.context["statement"] if r["j"].pk not in world.before]
    kinds = [r["j"].kind for r in rows]
    assert kinds == [JournalKind.HOLD, JournalKind.EARN, JournalKind.EARN]
    assert rows[0]["after"] == queries.balance(world.member).total
    assert rows[0]["effects"] == [("available", -50), ("held", 50)]
    assert rows[1]["effects"] == [("available", 80)]
    earn = rows[2]
    assert (earn["receipt"], earn["store"]) == ("R-1001", world.store.name)
    assert earn["after"] == world.base + 500
    assert [r["name"] for r in earn["rules"]] == ["基础积分", "周末双倍"]
    body = response.content.decode()
    assert "周末双倍" in body and "R-1001" in body
    assert 'data-testid="adjust-form"' in body


def test_statement_pages_without_counting(client, staff, world):
    for n in range(30):
        services.do_earn(member=world.member, points=1 + n, point_type="activity")
    client.force_login(staff("analyst"))
    first = client.get(reverse("ledger:member_points", args=[world.member.pk]))
    assert len(first.context["statement"]) == 25 and first.context["page"].has_next
    second = client.get(reverse("ledger:member_points", args=[world.member.pk]), {"page": "2"})
    assert len(second.context["statement"]) == 33 + len(world.before) - 25
    # the running balance carries on across pages
    assert second.context["statement"][0]["after"] == first.context["statement"][-1]["after"] - (
        first.context["statement"][-1]["j"].points
    )
    assert 'data-testid="adjust-form"' not in first.content.decode()  # analysts may not adjust


def test_small_adjustment_posts_at_once(client, staff, world):
    client.force_login(staff("agent"))
    before = available(world.member)
    response = client.post(
        reverse("ledger:adjust", args=[world.member.pk]),
        {"points": "200", "point_type": "bonus", "reason": "missed receipt"},
        follow=True,
    )
    assert "posted" in response.content.decode()
    assert available(world.member) == before + 200
    adjustment = Adjustment.objects.get(reason="missed receipt")
    assert adjustment.status == AdjustmentStatus.POSTED and adjustment.point_type == "bonus"


def test_large_adjustment_waits_for_approval(client, staff, world):
    client.force_login(staff("agent"))
    before = available(world.member)
    response = client.post(
        reverse("ledger:adjust", args=[world.member.pk]),
        {"points": "1500", "point_type": "adjustment", "reason": "compensation"},
        follow=True,
    )
    assert "waits for a second person" in response.content.decode()
    assert available(world.member) == before
    assert Adjustment.objects.get(reason="compensation").status == AdjustmentStatus.AWAITING


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": "0", "point_type": "adjustment", "reason": "x"}, "points", "other than zero"),
        ({"points": "10", "point_type": "adjustment", "reason": ""}, "reason", "required"),
        ({"points": "-999", "point_type": "adjustment", "reason": "too much"}, None, "fewer points"),
    ],
)
def test_refused_adjustment_shows_why_and_changes_nothing(client, staff, world, data, field, message):
    client.force_login(staff("supervisor"))
    count = Adjustment.objects.count()
    response = client.post(reverse("ledger:adjust", args=[world.member.pk]), data)
    assert response.status_code == 422
    form = response.context["adjust_form"]
    errors = form.errors.get(field or "__all__")
    assert errors and message in " ".join(errors)
    assert Adjustment.objects.count() == count


def test_statement_pdf_is_a_pdf_and_is_audited(client, staff, world):
    client.force_login(staff("agent"))
    today = clock.local_today()
    response = client.get(
        reverse("ledger:statement", args=[world.member.pk]),
        {"start": f"{today:%Y-%m}-01", "end": today.isoformat(), "format": "pdf"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment;")
    assert world.member.member_no in response["Content-Disposition"]
    assert AuditEntry.objects.filter(action="points.statement_export", object_id=str(world.member.pk)).exists()


@override_settings(LANGUAGE_CODE="zh-hans")
def test_statement_pdf_in_chinese_uses_the_cid_font(client, staff, world):
    client.force_login(staff("agent"))
    today = clock.local_today()
    response = client.get(
        reverse("ledger:statement", args=[world.member.pk]),
        {"start": f"{today:%Y}-01-01", "end": today.isoformat(), "format": "pdf"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.content.startswith(b"%PDF")
    assert b"STSong-Light" in response.content


def test_statement_excel_rows_match_the_journals(client, staff, world):
    services.do_commit_hold(hold=world.hold)
    client.force_login(staff("agent"))
    today = clock.local_today()
    response = client.get(
        reverse("ledger:statement", args=[world.member.pk]),
        {"start": (today - dt.timedelta(days=3)).isoformat(), "end": today.isoformat(), "format": "xlsx"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    summary = {r[0]: r[1] for r in rows[1:6]}
    assert summary["Opening balance"] == 0
    assert summary["Closing balance"] == queries.balance(world.member).total == world.base + 530
    header = rows.index(["Time", "Kind", "Points", "Balance", "Receipt", "Store", "Memo and rules"])
    journals = list(Journal.objects.filter(member=world.member).order_by("created_at", "id"))
    lines = rows[header + 1 : header + 1 + len(journals)]
    assert [line[2] for line in lines] == [j.points for j in journals]
    running = [sum(j.points for j in journals[: n + 1]) for n in range(len(journals))]
    assert [line[3] for line in lines] == running
    assert rows[header + 1 + len(journals)][0] is None  # the table ends there
    ours = lines[-4:]
    assert [line[1] for line in ours] == ["Earned", "Earned", "Held", "Hold committed"]
    assert [line[2] for line in ours] == [500, 80, 0, -50]
    assert ours[0][4:6] == ["R-1001", world.store.name]
    assert ours[0][6] == "sale R-1001 · 基础积分 +400 (Purchase points); 周末双倍 +100 (Purchase points)"


def test_statement_period_must_make_sense(client, staff, world):
    client.force_login(staff("agent"))
    url = reverse("ledger:statement", args=[world.member.pk])
    backwards = client.get(url, {"start": "2026-03-10", "end": "2026-03-01", "format": "pdf"})
    assert backwards.status_code == 422
    assert "before the start" in " ".join(backwards.context["statement_form"].errors["end"])
    too_long = client.get(url, {"start": "2024-01-01", "end": "2026-01-01", "format": "xlsx"})
    assert too_long.status_code == 422
    assert not AuditEntry.objects.filter(action="points.statement_export").exists()


# --------------------------------------------------------------------------- approvals


def test_a_requester_cannot_approve_their_own_and_a_second_person_can(client, staff, world):
    first, second = staff("supervisor"), staff("supervisor")
    client.force_login(first)
    before = available(world.member)
    client.post(
        reverse("ledger:adjust", args=[world.member.pk]),
        {"points": "2500", "point_type": "adjustment", "reason": "store closure"},
    )
    adjustment = Adjustment.objects.get(reason="store closure")
    page = client.get(reverse("ledger:approvals")).content.decode()
    assert "store closure" in page and 'data-testid="approval-row"' in page

    own = client.post(reverse("ledger:approve", args=[adjustment.pk]), {"note": "ok"})
    assert own.status_code == 422
    assert "second person" in own.content.decode()
    assert _status(adjustment) == AdjustmentStatus.AWAITING and available(world.member) == before

    client.force_login(second)
    response = client.post(reverse("ledger:approve", args=[adjustment.pk]), {"note": "checked"}, follow=True)
    assert "approved" in response.content.decode()
    adjustment.refresh_from_db()
    assert adjustment.status == AdjustmentStatus.POSTED and adjustment.decided_by == second
    assert available(world.member) == before + 2500
    again = client.post(reverse("ledger:approve", args=[adjustment.pk]), {"note": "twice"})
    assert again.status_code == 422 and "already decided" in again.content.decode()


def test_rejecting_needs_a_note(client, staff, world):
    client.force_login(staff("admin"))
    missing = client.post(reverse("ledger:reject", args=[world.other.pk]), {"note": "  "})
    assert missing.status_code == 422
    assert "Give a reason" in missing.content.decode()
    assert _status(world.other) == AdjustmentStatus.AWAITING
    done = client.post(reverse("ledger:reject", args=[world.other.pk]), {"note": "duplicate request"})
    assert done.status_code == 302
    world.other.refresh_from_db()
    assert world.other.status == AdjustmentStatus.REJECTED and world.other.decision_note == "duplicate request"
    listed = client.get(reverse("ledger:approvals")).context["rows"]
    assert [a.pk for a in listed] == [world.big.pk]


# --------------------------------------------------------------------------- program settings


def test_program_settings_save_through_the_service(client, staff):
    client.force_login(staff("marketer"))
    page = client.get(reverse("ledger:program"))
    assert page.context["form"]["hold_minutes"].value() == 30
    data = _program_form(
        return_window_days="14",
        clawback_policy="floor",
        adjustment_approval_over="500",
        points_per_currency_unit="50",
        expiry_bonus_mode="year_end",
        expiry_bonus_n="0",
        spending_payment=["purchase"],
    )
    response = client.post(reverse("ledger:program"), data)
    assert response.status_code == 302
    program.forget()
    config = program.current()
    assert config.return_window_days == 14 and config.clawback_policy == program.ClawbackPolicy.FLOOR
    assert config.adjustment_approval_over == 500 and config.points_per_currency_unit == 50
    assert config.expiry["bonus"] == program.ExpiryRule(mode=program.ExpiryMode.YEAR_END, n=0)
    assert config.spendable_types("payment") == ["purchase"]
    assert AuditEntry.objects.filter(action="points.program_update").exists()
    assert "Last changed" in client.get(reverse("ledger:program")).content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hold_minutes": "0"}, "hold_minutes", "At least 1."),
        ({"return_window_days": "400"}, "return_window_days", "At most 365."),
        ({"expiry_activity_n": "999"}, "expiry_activity_n", "At most 120."),
        ({"spending_reward": []}, "spending_reward", "Choose at least one point type."),
    ],
)
def test_program_settings_show_the_services_field_errors(client, staff, changes, field, message):
    client.force_login(staff("admin"))
    response = client.post(reverse("ledger:program"), _program_form(**changes))
    assert response.status_code == 422
    assert response.context["form"].errors[field] == [message]
    assert f'data-testid="error-{field}"' in response.content.decode()
    program.forget()
    assert program.current() == program.ProgramConfig()


# --------------------------------------------------------------------------- finance


@pytest.fixture
def books(db):
    """A program with exact figures: no sales, so nothing else earns."""
    a, b = make_member(name="甲"), make_member(name="乙")
    services.do_earn(member=a, points=1000, point_type="purchase")
    services.do_earn(member=b, points=200, point_type="activity")
    services.do_redeem(member=a, points=300, purpose="reward")
    services.do_hold(member=b, points=20, purpose="reward")
    services.do_request_adjustment(member=a, points=-100, reason="double credit")
    services.do_request_adjustment(member=b, points=30, reason="apology")
    return SimpleNamespace(a=a, b=b)


def test_finance_page_shows_the_liability_identity_and_counts(client, staff, books):
    client.force_login(staff("analyst"))
    response = client.get(reverse("ledger:finance"))
    figures = response.context["figures"]
    assert (figures.issued, figures.redeemed, figures.adjusted, figures.outstanding) == (1200, 300, -70, 830)
    assert figures.by_movements == figures.outstanding
    assert response.context["counts"] == {"with_points": 2, "owing": 0, "open_holds": 1}
    body = response.content.decode()
    assert 'data-testid="identity-ok"' in body
    assert '<td class="num" data-testid="outstanding"><strong>830</strong></td>' in body
    month = f"{clock.local_today():%Y-%m}"
    assert response.context["months"] == [
        {"month": month, "issued_net": 1200, "redeemed_net": 300, "expired": 0, "adjusted": -70, "written_off": 0}
    ]
    assert response.context["chart"]["months"] == [month]
    assert 'id="points-data"' in body


def test_finance_exports_the_monthly_table(client, staff, books):
    client.force_login(staff("admin"))
    month = f"{clock.local_today():%Y-%m}"
    as_csv = client.get(reverse("ledger:finance_export"), {"format": "csv"})
    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows == [
        ["Month", "Issued (net)", "Redeemed (net)", "Expired", "Adjusted (net)", "Written off"],
        [month, "1200", "300", "0", "-70", "0"],
    ]
    as_xlsx = client.get(reverse("ledger:finance_export"), {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1] == [month, 1200, 300, 0, -70, 0]


def test_running_the_ledger_audit_shows_each_check(client, staff, books):
    client.force_login(staff("analyst"))
    response = client.post(reverse("ledger:run_audit"))
    assert response.status_code == 200
    checks = response.context["checks"]
    assert len(checks) == len(audit.run()) and all(c.ok for c, _label in checks)
    assert "Every journal balances" in [label for _c, label in checks]
    body = response.content.decode()
    assert body.count('data-testid="audit-check" data-ok="1"') == len(checks)
    assert 'data-testid="audit-ok"' in body


# --------------------------------------------------------------------------- Chinese


@override_settings(LANGUAGE_CODE="zh-hans")
def test_points_pages_speak_chinese(client, staff, world, books):
    client.force_login(staff("admin"))
    body = client.get(
        reverse("ledger:member_points", args=[world.member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "积分对账单" in body and "调整积分" in body and "可用" in body
    finance = client.get(reverse("ledger:finance"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "积分负债" in finance
    member = client.get(reverse("members:detail", args=[world.member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert 'data-section="积分"' in member.content.decode()
