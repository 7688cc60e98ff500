from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_MODEL = "invalid_tier_model"
    UNKNOWN_PRESET = "unknown_tier_preset"
    NO_LIVE_MODEL = "no_live_tier_model"
    MODEL_NOT_DRAFT = "tier_model_not_draft"
    UNKNOWN_TIER = "unknown_tier"
    INVALID_OVERRIDE = "invalid_tier_override"
    NO_OVERRIDE = "no_tier_override"
    INVALID_SIMULATION = "invalid_simulation"
