"""The analytics app's writes: the refresh, the settings, segments and their snapshots."""

from patron.analytics.services.refresh import refresh_metrics
from patron.analytics.services.segments import (
    archive_segment,
    checked,
    checked_rules,
    create_segment,
    issue_coupons,
    record_count,
    take_snapshot,
    update_segment,
)
from patron.analytics.services.settings import update_settings

__all__ = [
    "archive_segment",
    "checked",
    "checked_rules",
    "create_segment",
    "issue_coupons",
    "record_count",
    "refresh_metrics",
    "take_snapshot",
    "update_segment",
    "update_settings",
]
