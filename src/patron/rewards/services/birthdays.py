"""Birthday gifts (生日礼) that a tier grants: points or a coupon, once a year, on the member's
birthday in the program's zone. 29 February birthdays are celebrated on 28 February in other years.

The daily job gives every member whose birthday is today the gift of the tier they hold now. The
(member, year) key is written in the same transaction as the gift, so a second run, or two
schedulers, give nothing twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.errors import DomainError
from patron.ledger import services as ledger
from patron.members.models import Member, MemberStatus
from patron.members.services import add_timeline, lock_member
from patron.rewards.models import BirthdayGift, CouponBatch, CouponSource
from patron.rewards.services.coupons import issue_locked
from patron.tiers import queries as tier_queries
from patron.tiers import services as tier_services
from patron.tiers.config import BirthdayGift as BirthdayBenefit

log = logging.getLogger(__name__)


def birthdays_on(day: dt.date) -> Q:
    """Members born on this month and day (and on 29 February, when `day` is 28 February of a common year)."""
    born = Q(birthday__month=day.month, birthday__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        born |= Q(birthday__month=2, birthday__day=29)
    return born


def _gift_of(tier_code: str | None) -> BirthdayBenefit | None:
    live = tier_services.live_model()
    if live is None or tier_code is None or tier_code not in live.config.codes:
        return None
    spec = live.config.tiers[live.config.codes.index(tier_code)]
    return next((b for b in spec.benefits if isinstance(b, BirthdayBenefit)), None)


def give_birthday_gift(member_id: int, today: dt.date) -> BirthdayGift | None:
    """Give one member this year's gift of their tier, unless it was given already."""
    with transaction.atomic():
        member = lock_member(member_id)
        if member.status != MemberStatus.ACTIVE:
            return None
        tier_code = tier_queries.tier_code_of(member)
        gift = _gift_of(tier_code)
        if gift is None:
            return None
        row = BirthdayGift(member=member, year=today.year, tier_code=tier_code or "", given_at=clock.now())
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            return None  # given this year already
        if gift.points:
            ledger.do_earn(member=member, points=gift.points, point_type="bonus", memo=_("Birthday gift"))
            row.points = gift.points
        else:
            batch = CouponBatch.objects.filter(code=gift.coupon_batch).first()
            if batch is None:
                raise DomainError(_("The birthday coupon batch %(b)s does not exist.") % {"b": gift.coupon_batch})
            row.coupon = issue_locked(batch, member, CouponSource.TIER, f"birthday:{today.year}")
        row.save(update_fields=["points", "coupon"])
        add_timeline(member, "birthday_gift", year=today.year, tier=row.tier_code, points=row.points)
        return row


def give_birthday_gifts(today: dt.date | None = None) -> int:
    """The daily job: every member whose birthday is today. One member's failure skips only them."""
    today = today or clock.local_today()
    given = 0
    candidates = Member.objects.filter(birthdays_on(today), status=MemberStatus.ACTIVE).order_by("id")
    for member_id in candidates.values_list("id", flat=True).iterator(chunk_size=2000):
        try:
            given += give_birthday_gift(member_id, today) is not None
        except DomainError as exc:
            log.warning("birthday gift for member %s not given: %s", member_id, exc.message)
    return given
