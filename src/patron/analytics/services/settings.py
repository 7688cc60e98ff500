"""Changing the analytics settings (windows, bands, cut points, lifecycle and churn thresholds)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from patron.analytics import config
from patron.analytics.errors import ErrorCode
from patron.analytics.models import AnalyticsSettings
from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import check_config


@transaction.atomic
def update_settings(changes: dict[str, Any]) -> config.Settings:
    """Merge `changes` into the stored settings; they apply from the next refresh."""
    row, _created = AnalyticsSettings.objects.select_for_update().get_or_create(pk=1)
    before = config.Settings.model_validate(row.config or {}).model_dump(mode="json")
    settings = check_config(
        config.Settings,
        {**before, **changes},
        message=_("The analytics settings are not valid: %(why)s"),
        code=ErrorCode.INVALID_SETTINGS,
    )
    row.config = settings.model_dump(mode="json")
    row.updated_at = clock.now()
    row.updated_by = current_actor().label[:150]
    row.save()
    record_audit(
        "analytics.settings_update", object_type="analytics_settings", object_id=1, before=before, after=row.config
    )
    transaction.on_commit(config.forget)
    config.forget()
    return settings
