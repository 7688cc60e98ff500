from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes the API returns for the points mall, coupons, check-in and badges."""

    REWARD_NOT_FOUND = "reward_not_found"
    REWARD_UNAVAILABLE = "reward_unavailable"  # inactive, outside its dates, or not in this store
    NOT_ELIGIBLE = "reward_not_eligible"  # the member's tier may not redeem it
    OUT_OF_STOCK = "out_of_stock"
    LIMIT_REACHED = "reward_limit_reached"  # per member per period, or in all
    INVALID_REWARD = "invalid_reward"
    INVALID_ORDER = "invalid_order"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_STATE = "order_state"  # the action does not fit the order's status
    CANNOT_CANCEL = "order_not_cancellable"
    INSUFFICIENT_POINTS = "insufficient_points"
    MEMBER_NOT_ACTIVE = "member_not_active"
    BATCH_NOT_FOUND = "coupon_batch_not_found"
    INVALID_BATCH = "invalid_coupon_batch"
    BATCH_EXHAUSTED = "coupon_batch_exhausted"
    COUPON_NOT_FOUND = "coupon_not_found"
    COUPON_NOT_YOURS = "coupon_not_yours"
    COUPON_USED = "coupon_already_redeemed"
    COUPON_EXPIRED = "coupon_expired"
    COUPON_NOT_YET_VALID = "coupon_not_yet_valid"
    COUPON_VOIDED = "coupon_voided"
    COUPON_NOT_APPLICABLE = "coupon_not_applicable"  # store, category, channel
    MIN_SPEND = "coupon_min_spend"
    STACKING = "coupon_stacking"
    COUPON_LIMIT = "coupon_member_limit"
    NOTHING_TO_UNREDEEM = "coupon_not_redeemed"
    UNREDEEM_TOO_LATE = "coupon_unredeem_too_late"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    INVALID_BADGE = "invalid_badge"
