"""The segment builder in a real browser, in Chinese as the staff use it: a marketer builds "gold and
silver members overdue for their usual purchase", watches the live count follow each condition,
saves it, exports it to CSV, freezes a snapshot and opens a member of it to read the churn reason
and CLV on the member page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from patron.analytics import segments
from patron.analytics.models import Segment, SegmentSnapshot
from patron.core import clock
from patron.demo.generator import DemoConfig, generate
from tests.factories import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = "/tmp/segment_builder.png"
TIERS = {"match": "all", "conditions": [{"field": "tier", "value": ["silver", "gold"]}]}
GOAL = {"match": "all", "conditions": [*TIERS["conditions"], {"field": "overdue", "value": True}]}


def expected(rules) -> str:
    return str(segments.members_matching(rules).count())


def test_a_marketer_builds_counts_saves_exports_and_freezes_a_segment(page, sign_in, live_server):
    now = dt.datetime.combine(clock.local_today(), dt.time.min, tzinfo=clock.member_zone())
    generate(DemoConfig(members=400, months=24, seed=11, now=now, batch_members=200, rewards=False, analytics=True))
    everyone, on_tiers, goal = expected({}), expected(TIERS), expected(GOAL)
    assert int(goal) > 0 and int(on_tiers) > int(goal)

    sign_in(make_staff("marketer"))
    page.goto(f"{live_server.url}/analytics/segments/new/")
    count = page.get_by_test_id("segment-count")
    expect(count).to_have_text(everyone)  # no condition yet: every live member

    page.get_by_test_id("add-condition").click()
    page.get_by_test_id("field-select").last.select_option("tier")
    page.get_by_test_id("value-select").last.select_option(["silver", "gold"])
    expect(count).to_have_text(on_tiers)

    page.get_by_test_id("add-condition").click()
    page.get_by_test_id("field-select").last.select_option("overdue")  # starts at "yes"
    expect(count).to_have_text(goal)
    expect(page.get_by_test_id("sample-row")).to_have_count(min(int(goal), 20))

    page.get_by_test_id("segment-name").fill("三月召回：金卡银卡逾期")
    page.get_by_test_id("save-segment").click()
    expect(page.get_by_test_id("segment-title")).to_have_text("三月召回：金卡银卡逾期")
    segment = Segment.objects.get(name="三月召回：金卡银卡逾期")
    assert segment.rules == GOAL
    expect(page.get_by_test_id("segment-count")).to_have_text(goal)  # the saved rules, drawn again
    page.screenshot(path=SCREENSHOT, full_page=True)

    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == int(goal) + 1
    numbers = {r[0] for r in rows[1:]}
    assert numbers == set(segments.members_matching(GOAL).values_list("member_no", flat=True))

    page.get_by_test_id("take-snapshot").click()
    expect(page.get_by_test_id("snapshot-title")).to_be_visible()
    snapshot = SegmentSnapshot.objects.get(segment=segment)
    assert snapshot.member_count == int(goal)
    expect(page.get_by_test_id("snapshot-row")).to_have_count(int(goal))

    # A member of the segment: the member page says why they are flagged and what they are worth.
    page.get_by_test_id("snapshot-row").first.locator("a").click()
    expect(page).to_have_url(re.compile(r"/members/\d+/"))
    reason = page.get_by_test_id("churn-reason").first
    expect(reason).to_contain_text("逾期未购：通常每")
    expect(page.locator("body")).to_contain_text("客户终身价值")
