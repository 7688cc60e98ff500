"""The tiers' console pages: every page and POST walked by every role, then what the pages do (the
model editor and its validation, going live, the report, the member's section and override)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse

from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.members.models import TimelineEntry
from patron.tiers import services
from patron.tiers.forms import TierModelForm
from patron.tiers.models import MemberTier, ModelStatus, TierChange, TierModel
from tests.factories import make_member, make_sale
from tests.roles import Case, url_of, walk, walk_anonymous
from tests.tiers.conftest import at, on
from tests.tiers.models import ladder

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]
NOW = "2026-06-01 10:00"  # local (Asia/Shanghai): the year counted is 2026


@pytest.fixture
def world(live, store):
    model = live()
    draft = services.do_create_model(name="草稿等级", config=ladder())
    with on(NOW):
        member = make_member(store=store)
        make_sale(member, store, amount="600.00", occurred_at=at(NOW))
        vip = make_member(store=store, name="李娜")
        services.do_set_override(member=vip, tier_code="gold", until=at("2026-09-01 00:00"), reason="status match")
    return SimpleNamespace(store=store, live=model, draft=draft, member=member, vip=vip)


def model_of(model: TierModel) -> TierModel:
    return TierModel.objects.get(pk=model.pk)


def post_data(form: TierModelForm, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a browser posts for the editor as drawn (the ladder's rows included), with `changes`
    typed over it (a value of None clears the field)."""
    data: dict[str, Any] = {}

    def put(part: Any) -> None:
        for name in part.fields:
            bound = part[name]
            value = bound.value()
            if value is None or value is False or value == "":
                continue
            data[bound.html_name] = "on" if value is True else str(value)

    put(form)
    put(form.ladder.management_form)
    for tier_form in form.ladder:
        put(tier_form)
    for key, value in (changes or {}).items():
        if value is None or value is False:
            data.pop(key, None)
        else:
            data[key] = "on" if value is True else value
    return data


def edit_data(model: TierModel, **changes: Any) -> dict[str, Any]:
    model = model_of(model)
    form = TierModelForm(
        initial=TierModelForm.initial_from(model.name, model.config), tiers=model.config["tiers"], extra=1
    )
    return post_data(form, {k.replace("__", "-"): v for k, v in changes.items()})


def new_data(**changes: Any) -> dict[str, Any]:
    """The blank editor with a two-tier ladder filled in."""
    from patron.tiers.views import NEW_DEFAULTS

    form = TierModelForm(initial=NEW_DEFAULTS, extra=3)
    filled = {
        "name": "新等级",
        "tier-0-code": "member",
        "tier-0-name": "会员",
        "tier-0-name_en": "Member",
        "tier-1-code": "vip",
        "tier-1-name": "贵宾",
        "tier-1-name_en": "VIP",
        "tier-1-spend": "3000",
        "tier-1-multiplier": "2",
    }
    filled.update({k.replace("__", "-"): v for k, v in changes.items()})
    return post_data(form, filled)


# --------------------------------------------------------------------------- every page by role


def _override_of(member) -> str:
    row = MemberTier.objects.filter(member=member).first()
    return row.override_code if row else ""


CASES = [
    Case("list", Perm.TIERS_VIEW, url_of("tiers:list")),
    Case("report", Perm.TIERS_VIEW, url_of("tiers:report")),
    Case("draft page", Perm.TIERS_VIEW, url_of("tiers:edit", "draft")),
    Case("live page", Perm.TIERS_VIEW, url_of("tiers:edit", "live")),
    Case("member tier page", Perm.TIERS_VIEW, url_of("tiers:member", "member")),
    Case("new page", Perm.TIERS_MANAGE, url_of("tiers:new")),
    Case("presets", Perm.TIERS_MANAGE, url_of("tiers:presets")),
    Case(
        "new",
        Perm.TIERS_MANAGE,
        url_of("tiers:new"),
        lambda w: new_data(name="role walk"),
        lambda w: TierModel.objects.filter(name="role walk", status=ModelStatus.DRAFT).exists(),
    ),
    Case(
        "from preset",
        Perm.TIERS_MANAGE,
        lambda w: reverse("tiers:from_preset", args=["hotel_nights"]),
        lambda w: {"hotel_nights-name": "role walk"},
        lambda w: TierModel.objects.filter(name="role walk", preset="hotel_nights").exists(),
    ),
    Case(
        "edit",
        Perm.TIERS_MANAGE,
        url_of("tiers:edit", "draft"),
        lambda w: edit_data(w.draft, name="改名", tier__2__spend="6000"),
        lambda w: (
            model_of(w.draft).name == "改名" and model_of(w.draft).config["tiers"][2]["qualify"]["spend"] == "6000"
        ),
    ),
    Case(
        "copy",
        Perm.TIERS_MANAGE,
        url_of("tiers:copy", "live"),
        lambda w: {"name": "role walk"},
        lambda w: TierModel.objects.filter(name="role walk", status=ModelStatus.DRAFT).exists(),
    ),
    Case(
        "go live",
        Perm.TIERS_MANAGE,
        url_of("tiers:go_live", "draft"),
        lambda w: {"reason": "新一年的规则", "confirm": "on"},
        lambda w: model_of(w.draft).status == ModelStatus.LIVE,
    ),
    Case(
        "override",
        Perm.TIERS_OVERRIDE,
        url_of("tiers:override", "member"),
        lambda w: {"tier": "diamond", "until": "2026-12-31", "reason": "投诉补偿"},
        lambda w: _override_of(w.member) == "diamond",
    ),
    Case(
        "end override",
        Perm.TIERS_OVERRIDE,
        url_of("tiers:end_override", "vip"),
        lambda w: {"reason": "到期提前结束"},
        lambda w: _override_of(w.vip) == "",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    with on(NOW):
        walk(client, staff(role), role, case, world, audited=True)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    walk_anonymous(client, case, world)


def test_readers_may_not_save_a_draft_through_its_page(client, staff, world):
    client.force_login(staff("analyst"))  # TIERS_VIEW, not TIERS_MANAGE
    page = client.get(reverse("tiers:edit", args=[world.draft.pk])).content.decode()
    assert 'data-testid="model-save"' not in page and 'data-testid="go-live-form"' not in page
    response = client.post(reverse("tiers:edit", args=[world.draft.pk]), edit_data(world.draft, name="改名"))
    assert response.status_code == 403
    assert model_of(world.draft).name == "草稿等级"


def test_navigation_offers_the_tiers_to_everyone_who_may_read_them(client, staff):
    for role in Role:
        client.force_login(staff(role.value))
        context = client.get(reverse("console:dashboard")).context
        urls = [url for url, _name, _label in context["nav"]]
        assert (reverse("tiers:list") in urls) == (role in roles_with(Perm.TIERS_VIEW)), role
        assert "Tiers" not in [str(label) for label in context["nav_coming"]]


# --------------------------------------------------------------------------- the list, presets, new


def test_the_list_shows_live_first_then_drafts_then_retired_with_who_went_live(client, staff, world):
    retired = world.live
    services.do_go_live(model=world.draft, reason="r")
    other = services.do_create_model(name="另一个草稿", config=ladder())
    client.force_login(staff("analyst"))
    response = client.get(reverse("tiers:list"))
    rows = response.context["rows"]
    assert [row.model.pk for row in rows] == [world.draft.pk, other.pk, retired.pk]
    body = response.content.decode()
    assert "Over the calendar year" in body and "Reviewed every year on 01-01" in body
    assert 'data-testid="new-model"' not in body  # analysts read only


def test_presets_page_lists_every_preset_and_creates_a_draft_from_one(client, staff, db):
    client.force_login(staff("marketer"))
    page = client.get(reverse("tiers:presets")).content.decode()
    for key in ("retail_spend", "hotel_nights", "gym_visits"):
        assert f'data-preset="{key}"' in page
    assert "Spend over the calendar year" in page and "spend ¥8,000.00" in page
    response = client.post(reverse("tiers:from_preset", args=["retail_spend"]), {"retail_spend-name": ""})
    model = TierModel.objects.get()
    assert response["Location"] == reverse("tiers:edit", args=[model.pk])
    assert (model.name, model.preset, model.status) == ("Retail spend tiers", "retail_spend", ModelStatus.DRAFT)
    assert client.post(reverse("tiers:from_preset", args=["nonsense"]), {}).status_code == 404


def test_a_blank_model_is_saved_from_its_rows_in_order(client, staff, db):
    client.force_login(staff("marketer"))
    data = new_data(tier__2__code="top", tier__2__name="至尊", tier__2__name_en="Top", tier__2__spend="9000")
    data.update({"tier-0-ORDER": "1", "tier-1-ORDER": "3", "tier-2-ORDER": "2"})  # top goes in the middle?
    response = client.post(reverse("tiers:new"), data)
    # Ordered member, top (¥9,000), vip (¥3,000): the spend must rise, so this is refused.
    assert response.status_code == 422
    assert "must be above that of top" in response.content.decode()
    data["tier-2-ORDER"] = "4"
    response = client.post(reverse("tiers:new"), data)
    model = TierModel.objects.get()
    assert response["Location"] == reverse("tiers:edit", args=[model.pk])
    tiers = model.config["tiers"]
    assert [t["code"] for t in tiers] == ["member", "vip", "top"]
    assert tiers[1]["benefits"] == [{"kind": "earn_multiplier", "factor": "2", "note": "", "note_en": ""}]
    assert tiers[1]["qualify"] == {"combine": "any", "spend": "3000", "purchase_days": None, "points": None}


# --------------------------------------------------------------------------- the editor


def test_the_editor_saves_policy_and_ladder_changes_of_a_draft(client, staff, world):
    client.force_login(staff("marketer"))
    benefits = json.dumps([{"kind": "priority_line", "line": "vip"}])
    data = edit_data(
        world.draft,
        window_kind="rolling",
        window_months="12",
        review_kind="anniversary",
        grace_days="30",
        refund_reverts_upgrade=False,
        tier__1__combine="all",
        tier__1__lifetime=True,
        tier__3__benefits=benefits,
        tier__3__color="#112233",
        tier__4__code="legend",
        tier__4__name="传奇",
        tier__4__name_en="Legend",
        tier__4__points="100000",
    )
    data["tier-2-DELETE"] = "on"
    response = client.post(reverse("tiers:edit", args=[world.draft.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    config = model_of(world.draft).config
    assert config["window"] == {"kind": "rolling", "months": 12}
    assert config["review"] == {"kind": "anniversary", "months": None, "month": None, "day": None}
    assert (config["grace_days"], config["refund_reverts_upgrade"]) == (30, False)
    assert [t["code"] for t in config["tiers"]] == ["base", "silver", "diamond", "legend"]
    silver, diamond = config["tiers"][1], config["tiers"][2]
    assert silver["qualify"]["combine"] == "all" and silver["lifetime"] is True
    assert diamond["color"] == "#112233"
    assert diamond["benefits"] == [{"kind": "priority_line", "line": "vip", "note": "", "note_en": ""}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"grace_days": "-1"}, "grace_days", "At least 0."),
        ({"window_kind": "rolling"}, "window_months", "A rolling window needs its number of months."),
        ({"review_month": "2", "review_day": "30"}, "review_day", "The review date must exist in every year."),
        ({"tier__2__code": "Gold!"}, "tier-2-code", "Use lower-case letters, digits, - and _ only."),
        ({"tier__2__multiplier": "0.5"}, "tier-2-multiplier", "More than 1."),
        ({"tier__2__spend": "-5"}, "tier-2-spend", "More than 0."),
        ({"tier__1__benefits": "[{"}, "tier-1-benefits", "not valid JSON"),
        ({"tier__1__benefits": '[{"kind": "free_service", "service": "wash"}]'}, "tier-1-benefits", "Benefit 1"),
        ({"tier__1__benefits": '[{"kind": "earn_multiplier", "factor": "2"}]'}, "tier-1-benefits", "at most one"),
        ({"tier__2__name": None}, "tier-2-name", "This field is required."),
    ],
)
def test_editor_refusals_show_on_their_field_and_change_nothing(client, staff, world, changes, field, message):
    client.force_login(staff("marketer"))
    before = model_of(world.draft).config
    if "tier__1__benefits" in changes and "earn_multiplier" in changes["tier__1__benefits"]:
        changes = {**changes, "tier__1__multiplier": "1.2"}
    response = client.post(reverse("tiers:edit", args=[world.draft.pk]), edit_data(world.draft, **changes))
    assert response.status_code == 422
    body = response.content.decode()
    start = body.index(f'data-testid="error-{field}"')
    assert message in body[start : start + 400], body[start : start + 400]
    assert model_of(world.draft).config == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tier__2__spend": "800"}, "The spend threshold of gold must be above that of silver."),
        ({"review_kind": "anniversary"}, "A calendar-year window is reviewed on 1 January"),
        ({"tier__0__spend": "10"}, "The lowest tier starts at zero"),
        ({"tier__2__code": "silver"}, "Each tier needs its own code."),
    ],
)
def test_editor_refusals_about_the_whole_model_show_above_it(client, staff, world, changes, message):
    client.force_login(staff("marketer"))
    response = client.post(reverse("tiers:edit", args=[world.draft.pk]), edit_data(world.draft, **changes))
    assert response.status_code == 422
    body = response.content.decode()
    errors = body[body.index('data-testid="form-errors"') :][:600]
    assert message in errors


def test_a_live_model_is_read_only_and_offers_a_copy(client, staff, world):
    client.force_login(staff("marketer"))
    url = reverse("tiers:edit", args=[world.live.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="read-only"' in page and 'data-testid="copy-form"' in page
    assert 'data-testid="model-save"' not in page and 'data-testid="go-live-form"' not in page
    assert "disabled" in page
    response = client.post(url, edit_data(world.live, name="偷偷改"))
    assert response.status_code == 422
    assert "Only a draft can be edited" in response.content.decode()
    assert model_of(world.live).name == "测试等级"
    response = client.post(reverse("tiers:copy", args=[world.live.pk]), {"name": ""})
    copy = TierModel.objects.get(name="Copy of 测试等级")
    assert response["Location"] == reverse("tiers:edit", args=[copy.pk])
    assert copy.status == ModelStatus.DRAFT and copy.config == model_of(world.live).config


def test_a_model_with_an_invalid_stored_config_opens_with_a_notice(client, staff, world):
    TierModel.objects.filter(pk=world.draft.pk).update(config={"tiers": "nonsense"})
    client.force_login(staff("marketer"))
    response = client.get(reverse("tiers:edit", args=[world.draft.pk]))
    assert response.status_code == 200
    assert 'data-testid="invalid-config"' in response.content.decode()
    assert client.get(reverse("tiers:list")).status_code == 200


# --------------------------------------------------------------------------- going live


def test_go_live_needs_a_reason_and_the_confirmation(client, staff, world):
    client.force_login(staff("marketer"))
    url = reverse("tiers:go_live", args=[world.draft.pk])
    response = client.post(url, {"reason": "新规则"})
    assert response.status_code == 422
    assert 'data-testid="error-confirm"' in response.content.decode()
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 422 and 'data-testid="error-reason"' in response.content.decode()
    assert model_of(world.draft).status == ModelStatus.DRAFT


def test_go_live_from_the_console_retires_the_previous_model_and_reevaluates(
    client, staff, world, django_capture_on_commit_callbacks
):
    client.force_login(staff("admin"))
    with on(NOW), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tiers:go_live", args=[world.draft.pk]), {"reason": "2026 年新规", "confirm": "on"}
        )
    assert response["Location"] == reverse("tiers:list")
    draft, previous = model_of(world.draft), model_of(world.live)
    assert (draft.status, previous.status) == (ModelStatus.LIVE, ModelStatus.RETIRED)
    assert draft.went_live_by and draft.went_live_at == at(NOW)
    assert AuditEntry.objects.filter(action="tiers.model_go_live", reason="2026 年新规").exists()
    listed = client.get(reverse("tiers:list"))
    assert "is live" in " ".join(str(m) for m in listed.context["messages"])
    # A second go-live of the same model is refused on the page, not with a server error.
    response = client.post(reverse("tiers:go_live", args=[world.draft.pk]), {"reason": "again", "confirm": "on"})
    assert response.status_code == 422
    assert "Only a draft can go live." in response.content.decode()


# --------------------------------------------------------------------------- the report


def test_the_report_counts_members_per_tier_now_and_by_month(client, staff, world):
    with on(NOW):
        make_sale(world.member, world.store, amount="6000.00", occurred_at=at(NOW))  # to gold
        client.force_login(staff("analyst"))
        response = client.get(reverse("tiers:report"))
    rows = {row["code"]: row["members"] for row in response.context["rows"]}
    assert rows == {"base": 1, "silver": 0, "gold": 1, "diamond": 0}  # the override does not count
    chart = response.context["chart"]
    assert chart["now"]["members"] == [1, 0, 1, 0]
    assert len(chart["months"]) == 12 and chart["months"][-1] == "2026-05"
    assert [s["name"] for s in chart["series"]] == ["Member", "Silver", "Gold", "Diamond"]
    body = response.content.decode()
    assert "vendor/echarts.min.js" in body and 'id="tiers-data"' in body


def test_the_report_says_when_no_model_is_live(client, staff, db):
    client.force_login(staff("analyst"))
    response = client.get(reverse("tiers:report"))
    assert response.status_code == 200 and 'data-testid="no-live-model"' in response.content.decode()


# --------------------------------------------------------------------------- the member's section


def member_page(client, member, when: str = NOW) -> str:
    with on(when):
        return client.get(reverse("members:detail", args=[member.pk])).content.decode()


def test_member_section_shows_the_tier_progress_and_history(client, staff, world):
    with on("2026-06-02 10:00"):
        make_sale(world.member, world.store, amount="600.00", occurred_at=at("2026-06-02 10:00"))  # ¥1,200: silver
    client.force_login(staff("agent"))
    page = member_page(client, world.member, "2026-06-02 12:00")
    section = page[page.index('data-section="Tier"') :]
    assert 'data-testid="tier-badge" data-tier="silver"' in section
    assert "background: #8c8c8c" in section
    assert "Spend ¥3,800.00 more by 2026-12-31 to reach Gold" in section
    assert 'data-testid="progress-bar"' in section and 'value="24"' in section  # ¥1,200 of ¥5,000
    assert "Spend: ¥1,200.00 / ¥5,000.00" in section
    assert 'data-goal="keep" data-met="1"' in section and "Already qualifies to keep Silver." in section
    assert 'data-testid="tier-change" data-reason="rule"' in section and "Qualified" in section
    assert 'data-testid="override-form"' not in section  # agents may not override
    assert "Tier changed from Member to Silver (Qualified)." in page  # the timeline's sentence


def test_member_section_shows_the_rules_tier_under_an_override(client, staff, world):
    client.force_login(staff("supervisor"))
    page = member_page(client, world.vip)
    section = page[page.index('data-section="Tier"') :]
    assert 'data-testid="tier-badge" data-tier="gold"' in section
    assert "override until 2026-09-01 00:00: status match" in section
    assert "By the rules" in section and 'data-testid="tier-badge" data-tier="base"' in section
    assert 'data-testid="end-override-form"' in section and 'data-testid="override-form"' in section
    assert "Manual override" in section and "status match" in section


def test_member_section_is_left_out_for_roles_that_may_not_read_tiers(client, staff, world):
    client.force_login(staff("promoter"))
    response = client.get(reverse("members:detail", args=[world.member.pk]))
    assert response.status_code == 200  # promoters see members, not their tiers
    body = response.content.decode()
    assert 'data-testid="tier-badge"' not in body and 'data-testid="tier-progress"' not in body


def test_member_section_says_when_no_model_is_live(client, staff, store):
    member = make_member(store=store)
    client.force_login(staff("agent"))
    page = member_page(client, member)
    assert "No tier model is live yet." in page


def test_override_from_the_member_page_through_htmx(client, staff, world):
    client.force_login(staff("supervisor"))
    url = reverse("tiers:override", args=[world.member.pk])
    back = reverse("members:detail", args=[world.member.pk])
    with on(NOW):
        response = client.post(
            url, {"tier": "diamond", "until": "2026-12-31", "reason": "投诉补偿", "next": back}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200 and response["HX-Redirect"] == back
    row = MemberTier.objects.get(member=world.member)
    assert row.override_code == "diamond" and row.override_until == at("2027-01-01 00:00")
    assert TierChange.objects.filter(member=world.member, reason="manual", to_code="diamond").exists()
    page = member_page(client, world.member)
    assert 'data-testid="tier-badge" data-tier="diamond"' in page
    assert TimelineEntry.objects.filter(member=world.member, kind="tier_changed").count() == 1


def test_an_override_refused_comes_back_onto_its_form(client, staff, world):
    client.force_login(staff("supervisor"))
    url = reverse("tiers:override", args=[world.member.pk])
    with on(NOW):
        past = client.post(url, {"tier": "gold", "until": "2026-01-01", "reason": "x"}, HTTP_HX_REQUEST="true")
        unknown = client.post(url, {"tier": "nope", "until": "2026-12-31", "reason": "x"})
        blank = client.post(url, {"tier": "gold", "until": "2026-12-31", "reason": " "})
        far = client.post(url, {"tier": "gold", "until": "9999-12-31", "reason": "x"})
    assert past.status_code == 422
    fragment = past.content.decode()
    assert fragment.startswith('<div class="tier-override"') or 'class="tier-override"' in fragment[:400]
    assert "An override ends at a time in the future." in fragment and 'data-testid="error-until"' in fragment
    assert unknown.status_code == 422 and 'data-testid="error-tier"' in unknown.content.decode()
    assert blank.status_code == 422 and 'data-testid="error-reason"' in blank.content.decode()
    assert far.status_code == 422 and "at most five years" in far.content.decode()
    assert _override_of(world.member) == ""


def test_ending_an_override_lands_the_member_where_the_rules_put_them(client, staff, world):
    client.force_login(staff("admin"))
    url = reverse("tiers:end_override", args=[world.vip.pk])
    assert client.post(url, {"reason": ""}).status_code == 422
    with on(NOW):
        response = client.post(url, {"reason": "客户要求"})
    assert response["Location"] == reverse("members:detail", args=[world.vip.pk])
    assert _override_of(world.vip) == ""
    assert TierChange.objects.filter(member=world.vip).order_by("-id").first().reason == "override_ended"
    with on(NOW):
        again = client.post(url, {"reason": "再来"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 422 and "This member has no tier override." in again.content.decode()


def test_the_members_tier_page_lists_the_full_history(client, staff, world):
    client.force_login(staff("cashier"))
    with on(NOW):
        response = client.get(reverse("tiers:member", args=[world.vip.pk]))
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="tier-history"' in body
    assert 'data-testid="override-form"' not in body  # cashiers read only


def test_timeline_words_an_at_risk_warning(client, staff, world):
    from patron.members.services import add_timeline

    add_timeline(world.member, "tier_at_risk", tier="gold", would_be="silver", review_on="2027-01-01")
    client.force_login(staff("agent"))
    page = member_page(client, world.member)
    assert "At risk: moves from Gold to Silver at the review on 2027-01-01 unless they qualify." in page


# --------------------------------------------------------------------------- languages


@override_settings(LANGUAGE_CODE="zh-hans")
def test_pages_speak_chinese(client, staff, world):
    client.force_login(staff("admin"))
    lists = client.get(reverse("tiers:list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "等级模型" in lists and "Tier models" not in lists and "按自然年" in lists
    with on(NOW):
        page = client.get(reverse("members:detail", args=[world.member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    body = page.content.decode()
    assert "在 2026-12-31 前再消费 ¥400.00或再有 4 个消费日，即可升至银卡" in body
    assert 'data-tier="base">普通会员</span>' in body
    url = reverse("tiers:edit", args=[world.draft.pk])
    field = client.post(url, edit_data(world.draft, grace_days="-1"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "不能小于 0。" in field.content.decode()
    whole = client.post(url, edit_data(world.draft, tier__2__spend="800"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "gold 的消费金额门槛必须高于 silver 的。" in whole.content.decode()
