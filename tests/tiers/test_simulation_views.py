"""The simulator's console pages: walked by every role, then a marketer's run from start to export."""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

import openpyxl
import pytest
from django.urls import reverse

from patron.core.permissions import Perm, Role
from patron.tiers import services
from patron.tiers.models import Simulation, SimulationStatus
from tests.factories import make_member, make_sale
from tests.roles import Case, url_of, walk, walk_anonymous
from tests.tiers.conftest import at, on
from tests.tiers.models import ladder

pytestmark = pytest.mark.django_db
ALL_ROLES = [r.value for r in Role]


def _run(model, first="2025-01-01", last="2025-12-31", **kw) -> Simulation:
    simulation = services.do_start_simulation(
        model=model, first=dt.date.fromisoformat(first), last=dt.date.fromisoformat(last), **kw
    )
    services.run_simulation(simulation.pk)
    return Simulation.objects.get(pk=simulation.pk)


@pytest.fixture
def world(store, live):
    live_model = live()
    with on("2024-12-01 10:00"):
        people = [make_member(name=f"会员{i}") for i in range(3)]
    for person, amount in zip(people, ["600", "1500", "7000"], strict=True):
        with on("2025-05-01 12:00"):
            make_sale(person, store, amount=amount, occurred_at=at("2025-05-01 12:00"))
    stricter = ladder()
    stricter["tiers"][2]["qualify"] = {"spend": "8000"}
    stricter["tiers"][3]["qualify"] = {"spend": "30000"}
    draft = services.do_create_model(name="更严的金卡", config=stricter)
    one, two = _run(draft, name="严"), _run(live_model, baseline="none", name="现行")
    return SimpleNamespace(store=store, draft=draft, one=one, two=two)


def _start_data(w) -> dict[str, str]:
    return {
        "model": str(w.draft.pk),
        "name": "role walk",
        "first": "2025-01-01",
        "last": "2025-12-31",
        "baseline": "live",
    }


CASES = [
    Case("list", Perm.TIERS_SIMULATE, url_of("tiers_sim:simulations")),
    Case(
        "start",
        Perm.TIERS_SIMULATE,
        url_of("tiers_sim:simulations"),
        _start_data,
        lambda w: Simulation.objects.filter(name="role walk").exists(),
    ),
    Case("detail", Perm.TIERS_SIMULATE, url_of("tiers_sim:simulation", "one")),
    Case("export", Perm.TIERS_SIMULATE, url_of("tiers_sim:export", "one")),
    Case(
        "compare",
        Perm.TIERS_SIMULATE,
        lambda w: reverse("tiers_sim:compare") + f"?a={w.one.pk}&b={w.two.pk}",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_only_for_roles_with_its_permission(client, staff, world, role, case):
    with on("2026-03-01 10:00"):
        walk(client, staff(role), role, case, world, audited=True)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_anonymous_goes_to_login_and_changes_nothing(client, world, case):
    walk_anonymous(client, case, world)


def test_a_marketer_runs_a_simulation_reads_the_mix_and_exports_it(
    client, staff, world, django_capture_on_commit_callbacks
):
    client.force_login(staff("marketer"))
    with on("2026-03-01 10:00"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tiers_sim:simulations"), {**_start_data(world), "name": "新规则试算"})
    simulation = Simulation.objects.get(name="新规则试算")
    assert response["Location"] == reverse("tiers_sim:simulation", args=[simulation.pk])
    assert simulation.status == SimulationStatus.DONE
    page = client.get(response["Location"])
    members = {row["code"]: row["members"] for row in page.context["tiers"]}
    assert members == {"base": 1, "silver": 2, "gold": 0, "diamond": 0}
    # The live model put the ¥7,000 buyer in gold; the stricter draft puts them in silver.
    cells = page.context["matrix_rows"]
    assert [r["code"] for r in cells] == ["base", "silver", "gold", "diamond"]
    assert cells[2]["cells"] == [0, 1, 0, 0]
    export = client.get(reverse("tiers_sim:export", args=[simulation.pk]))
    book = openpyxl.load_workbook(io.BytesIO(export.content))
    assert len(book.sheetnames) == 2  # the tiers and the migration matrix (no backtest)
    first = book.worksheets[0]
    assert [row[1] for row in first.iter_rows(min_row=7, max_row=10, values_only=True)] == [1, 2, 0, 0]


def test_the_progress_poll_shows_the_bar_then_reloads_the_page(client, staff, world):
    client.force_login(staff("analyst"))
    queued = Simulation.objects.create(
        name="排队中",
        model=world.draft,
        params={"first": "2025-01-01", "last": "2025-12-31"},
        created_at=at("2026-03-01 10:00"),
    )
    poll = client.get(reverse("tiers_sim:simulation", args=[queued.pk]), HTTP_HX_REQUEST="true")
    assert b"simulation-progress" in poll.content
    done = client.get(reverse("tiers_sim:simulation", args=[world.one.pk]), HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


def test_a_period_that_is_not_over_is_refused_on_the_form(client, staff, world):
    client.force_login(staff("marketer"))
    with on("2026-03-01 10:00"):
        response = client.post(reverse("tiers_sim:simulations"), {**_start_data(world), "last": "2026-12-31"})
    assert response.status_code == 422
    assert response.context["form"].non_field_errors()
    assert not Simulation.objects.filter(name="role walk").exists()
