"""The analytics app's refusals, with stable codes."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_SETTINGS = "invalid_analytics_settings"
    UNKNOWN_ENGINE = "unknown_engine"
    RUN_IN_PROGRESS = "analytics_run_in_progress"
    INVALID_SEGMENT = "invalid_segment"
    SEGMENT_NOT_FOUND = "segment_not_found"
    SEGMENT_ARCHIVED = "segment_archived"
