from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_POINTS = "invalid_points"
    INSUFFICIENT_POINTS = "insufficient_points"
    REDEMPTION_BLOCKED = "redemption_blocked"
    MEMBER_FROZEN = "member_frozen"
    MEMBER_NOT_ACTIVE = "member_not_active"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_NOT_OPEN = "hold_not_open"
    REASON_REQUIRED = "reason_required"
    ADJUSTMENT_NOT_AWAITING = "adjustment_not_awaiting"
    FOUR_EYES = "second_approver_required"
    NOTHING_TO_REVERSE = "nothing_to_reverse"
    INVALID_PROGRAM = "invalid_program_settings"
