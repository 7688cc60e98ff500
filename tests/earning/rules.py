"""Rules that tests across the suite start from (made through the services, like real ones)."""

from __future__ import annotations

from typing import Any

from patron.earning import services
from patron.earning.models import EarningRule


def one_point_per_yuan(**overrides: Any) -> EarningRule:
    """The retail preset: 1 purchase point per ¥1, rounded down."""
    return services.do_create_rule_from_preset(preset_key="retail_base", params=overrides or None)


def make_rule(name: str = "rule", **config: Any) -> EarningRule:
    return services.do_create_rule(name=name, config=config)
