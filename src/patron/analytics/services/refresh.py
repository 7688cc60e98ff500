"""The nightly refresh: read, compute on the engine, score CLV, write back, then tell the others.

The whole write (metrics, transitions, episodes, the run's row) is one transaction, so readers see
either the last run or this one, and a failed run changes nothing but its own row.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from patron.analytics import config, engines, scoring
from patron.analytics.errors import ErrorCode
from patron.analytics.events import MemberOverdue, MemberWentCold, MetricsRefreshed
from patron.analytics.models import (
    ChurnEpisode,
    ChurnKind,
    LifecycleTransition,
    MemberMetrics,
    MetricsRun,
    RunStatus,
)
from patron.analytics.queries import STALE_AFTER
from patron.analytics.services import writeback
from patron.core import clock
from patron.core.context import current_actor
from patron.core.errors import Conflict, ValidationFailed
from patron.core.events import publish, publish_all


def refresh_metrics(*, as_of: dt.date | None = None, engine: str = "duckdb") -> MetricsRun:
    """Compute every live member's metrics as of `as_of` (the program's today) and store them."""
    if engine not in engines.available():
        raise ValidationFailed(
            _("The %(e)s engine is not available here.") % {"e": engine}, code=ErrorCode.UNKNOWN_ENGINE
        )
    settings = config.current()
    as_of = as_of or clock.local_today()
    params = settings.params(as_of)
    run = _start_run(as_of, engine, settings)
    seconds: dict[str, float] = {}
    try:
        inputs = None
        read_mark: dict[str, Any] = {}
        if engine != "postgres":
            with _timed(seconds, "read"):
                inputs = engines.read_inputs()
                read_mark = writeback.read_mark(inputs["purchases"]["txn_id"])
        with _timed(seconds, "compute"):
            result = engines.compute(engine, params, inputs)
            inputs = None  # the purchases are the biggest thing in memory: free them before the write
        with _timed(seconds, "clv"):
            scores = scoring.score(
                result.metrics,
                params.as_of_day,
                forecast_days=settings.forecast_days,
                months=settings.clv_months,
                monthly_discount=settings.monthly_discount,
            )
            rows = writeback.metrics_table(result, scores, as_of)
        _store(run, rows, as_of, seconds, scores.fit, read_mark)
    except Exception as exc:
        MetricsRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=clock.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    run.refresh_from_db()
    return run


def _start_run(as_of: dt.date, engine: str, settings: config.Settings) -> MetricsRun:
    """The run's row, committed before the work starts. A run left "running" by a dead process is
    marked failed first; a live one makes the unique constraint refuse this start."""
    now = clock.now()
    with transaction.atomic():
        MetricsRun.objects.filter(status=RunStatus.RUNNING, started_at__lte=now - STALE_AFTER).update(
            status=RunStatus.FAILED, finished_at=now, error=f"abandoned: still running after {STALE_AFTER}"
        )
        try:
            with transaction.atomic():
                return MetricsRun.objects.create(
                    as_of=as_of,
                    engine=engine,
                    started_at=now,
                    settings=settings.model_dump(mode="json"),
                    actor_label=current_actor().label[:150],
                )
        except IntegrityError as exc:
            raise Conflict(_("A metrics refresh is already running."), code=ErrorCode.RUN_IN_PROGRESS) from exc


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    seconds[phase] = round(time.perf_counter() - started, 3)


@transaction.atomic
def _store(
    run: MetricsRun,
    rows: pa.Table,
    as_of: dt.date,
    seconds: dict[str, float],
    fit: dict[str, Any],
    read_mark: dict[str, Any],
) -> None:
    started = time.perf_counter()
    previous = engines.read_query(
        f"SELECT member_id, lifecycle_stage FROM {MemberMetrics._meta.db_table}",
        pa.schema([("member_id", pa.int64()), ("lifecycle_stage", pa.string())]),
    )
    writeback.replace_metrics(rows)
    changes = writeback.lifecycle_changes(previous, rows)
    LifecycleTransition.objects.bulk_create(
        (LifecycleTransition(member_id=m, day=as_of, from_stage=a, to_stage=b) for m, a, b in changes),
        batch_size=writeback.CHUNK,
    )
    opened = _update_episodes(rows, as_of)
    seconds["write"] = round(time.perf_counter() - started, 3)
    MetricsRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE,
        finished_at=clock.now(),
        members=rows.num_rows,
        seconds=seconds,
        clv_fit=fit,
        read_mark=read_mark,
    )
    publish(MetricsRefreshed(run_id=run.pk, as_of=as_of.isoformat(), members=rows.num_rows))
    publish_all([_event(episode) for episode in opened])


# The figures kept on an episode when it opens: detail key <- metrics column.
FIGURES = {
    ChurnKind.OVERDUE: (
        "overdue",
        {"usual_days": "interval_median", "spread_days": "interval_spread", "silent_days": "recency_days"},
    ),
    ChurnKind.GONE_COLD: ("gone_cold", {"recent_purchases": "cold_recent", "earlier_purchases": "cold_base"}),
}


def _update_episodes(rows: pa.Table, as_of: dt.date) -> list[writeback.Opened]:
    """Open an episode for each newly flagged member and close those no longer flagged."""
    open_now = dict(
        ((member_id, kind), pk)
        for pk, member_id, kind in ChurnEpisode.objects.filter(ended_on=None).values_list("pk", "member_id", "kind")
    )
    new: list[writeback.Opened] = []
    still: set[tuple[int, str]] = set()
    for kind, (flag, figures) in FIGURES.items():
        # Only the flagged rows go to Python (a first night flags a sixth of the members).
        flagged = rows.filter(pc.fill_null(rows[flag], False)).select(["member_id", *figures.values()])
        values = [flagged[column].to_pylist() for column in figures.values()]
        for member_id, *figures_of_member in zip(flagged["member_id"].to_pylist(), *values, strict=True):
            key = (member_id, str(kind))
            still.add(key)
            if key not in open_now:
                new.append(
                    writeback.Opened(0, member_id, str(kind), dict(zip(figures, figures_of_member, strict=True)))
                )
    ended = [pk for key, pk in open_now.items() if key not in still]
    for start in range(0, len(ended), writeback.CHUNK):
        ChurnEpisode.objects.filter(pk__in=ended[start : start + writeback.CHUNK]).update(ended_on=as_of)
    return writeback.insert_episodes(new, as_of)


def _event(episode: writeback.Opened) -> MemberOverdue | MemberWentCold:
    d = episode.detail
    if episode.kind == ChurnKind.OVERDUE:
        return MemberOverdue(
            member_id=episode.member_id,
            episode_id=episode.pk,
            usual_days=float(d["usual_days"]),
            silent_days=int(d["silent_days"]),
        )
    return MemberWentCold(
        member_id=episode.member_id,
        episode_id=episode.pk,
        recent_purchases=int(d["recent_purchases"]),
        earlier_purchases=int(d["earlier_purchases"]),
    )
