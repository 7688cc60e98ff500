"""The analytics app's writes: the refresh and the settings."""

from patron.analytics.services.refresh import refresh_metrics
from patron.analytics.services.settings import update_settings

__all__ = ["refresh_metrics", "update_settings"]
