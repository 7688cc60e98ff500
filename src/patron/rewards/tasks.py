"""The rewards app's background jobs: hourly upkeep of orders, coupons and failed-lookup counters;
bulk code generation and issuing; giving a new badge to everyone who already qualifies."""

from __future__ import annotations

from django_tasks import task

from patron.rewards import services
from patron.rewards.models import Badge, CouponBatch


@task()
def upkeep() -> dict[str, int]:
    return {
        "orders_cancelled": services.cancel_lapsed_orders(),
        "coupons_expired": services.expire_coupons(),
        "attempts_pruned": services.prune_attempts(),
    }


@task()
def generate_codes(batch_id: int, count: int) -> int:
    return services.do_generate_codes(batch=CouponBatch.objects.get(pk=batch_id), count=count)


@task()
def issue_to_members(batch_id: int, member_ids: list[int], source_ref: str = "") -> dict[str, int]:
    result = services.do_issue_to_members(
        batch=CouponBatch.objects.get(pk=batch_id), member_ids=member_ids, source_ref=source_ref
    )
    return {"issued": result.issued, "skipped": result.skipped}


@task()
def backfill_badge(badge_id: int) -> int:
    badge = Badge.objects.filter(pk=badge_id, is_active=True).first()
    return services.backfill_badge(badge) if badge else 0


@task()
def birthday_gifts() -> int:
    return services.give_birthday_gifts()
