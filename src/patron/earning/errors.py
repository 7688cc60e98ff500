from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_RULE = "invalid_rule"
    UNKNOWN_PRESET = "unknown_preset"
    BUDGET_BELOW_AWARDED = "budget_below_awarded"
    UNKNOWN_ACTIVITY = "unknown_activity"
    REFERENCE_REQUIRED = "reference_required"
    ACTIVITY_LIMIT_REACHED = "activity_limit_reached"
    ALREADY_AWARDED = "already_awarded"
    INVALID_ACTIVITY_PROGRAM = "invalid_activity_program"
    MEMBER_FROZEN = "member_frozen"
    MEMBER_NOT_ACTIVE = "member_not_active"
