"""The first night opens many churn episodes at once (by COPY on PostgreSQL): each gets its event."""

from __future__ import annotations

import pytest

from patron.analytics.events import MemberOverdue
from patron.analytics.models import ChurnEpisode
from patron.core import clock
from patron.core.events import subscribe
from patron.demo.generator import DemoConfig, generate
from patron.members.models import Member
from tests.analytics.test_refresh import AS_OF, NOW


@pytest.mark.django_db
def test_many_new_episodes_each_get_one_event(django_capture_on_commit_callbacks):
    from patron.analytics import services

    heard: list = []
    subscribe(MemberOverdue)(heard.append)
    with clock.frozen(NOW):
        generate(DemoConfig(members=300, months=24, seed=11, now=NOW, batch_members=150, rewards=False))
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_metrics(as_of=AS_OF)
    episodes = ChurnEpisode.objects.filter(kind="overdue")
    assert episodes.count() > 10
    assert sorted((e.member_id, e.episode_id) for e in heard) == sorted(episodes.values_list("member_id", "pk"))
    assert all(e.silent_days > e.usual_days for e in heard)
    assert Member.objects.filter(pk__in=[e.member_id for e in heard]).count() == len(heard)
