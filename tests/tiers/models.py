"""Tier model configs for the tests: small ladders whose numbers are easy to check by hand."""

from __future__ import annotations

import copy
from typing import Any

from patron.tiers.config import TierModelConfig


def ladder(**policy: Any) -> dict[str, Any]:
    """普通 / 银卡 (¥1,000 or 5 purchase days) / 金卡 (¥5,000) / 钻石 (¥20,000), calendar year by default."""
    config: dict[str, Any] = {
        "tiers": [
            {"code": "base", "name": "普通会员", "name_en": "Member"},
            {
                "code": "silver",
                "name": "银卡",
                "name_en": "Silver",
                "qualify": {"combine": "any", "spend": "1000", "purchase_days": 5},
            },
            {
                "code": "gold",
                "name": "金卡",
                "name_en": "Gold",
                "qualify": {"spend": "5000"},
                "benefits": [{"kind": "earn_multiplier", "factor": "1.5"}],
            },
            {"code": "diamond", "name": "钻石", "name_en": "Diamond", "qualify": {"spend": "20000"}},
        ],
        "window": {"kind": "calendar_year"},
        "review": {"kind": "fixed_date", "month": 1, "day": 1},
        "downgrade": "one_level",
        "grace_days": 0,
        "at_risk_days": 30,
        "refund_reverts_upgrade": True,
    }
    config.update(policy)
    return copy.deepcopy(config)


def parsed(**policy: Any) -> TierModelConfig:
    return TierModelConfig.model_validate(ladder(**policy))
