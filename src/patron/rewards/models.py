"""The points mall (积分商城), coupons (优惠券) and badges (勋章).

- `RewardCategory`, `Reward`: the catalog. A reward is a physical gift, a coupon from a batch, a
  privilege or service voucher, stored value / cash back, or a partner's code; priced in points or
  points + cash; with eligibility by tier, dates, limits per member and in all, and store visibility.
  `stock` (null: unlimited) and `sold` are only ever changed by one conditional UPDATE, and check
  constraints keep stock non-negative and `sold` within `total_limit`, so a burst never oversells.
- `PartnerCode`: a partner's pool of codes; an order reserves one when it is placed.
- `RedemptionOrder`: placed (points held) → confirmed (points committed) → fulfilled, or cancelled
  (points and stock returned).
- `CouponBatch`, `Coupon`, `CouponRedemption`: coupon definitions, the coupons (one unique code each,
  or the batch's shared code), and each use at a till. A unique partial index allows one live
  redemption per coupon, so two tills racing on a code get one success between them.
- `AttemptCounter`: failed coupon lookups per API key and per member in fixed windows (anti-guessing).
- `Badge`, `MemberBadge`: badge rules and the badges members hold (each at most once).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from patron.core.i18n import in_reader_language
from patron.ledger.models import Hold
from patron.members.models import Member, Store


class Bilingual:
    """`display` / `display_description`: the zh-Hans text, or English when the reader asked for it."""

    name: str
    name_en: str

    @property
    def display(self) -> str:
        return in_reader_language(self.name, self.name_en)


# --------------------------------------------------------------------------- catalog


class RewardCategory(Bilingual, models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=60, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class RewardKind(models.TextChoices):
    GIFT = "gift", _("Physical gift")
    COUPON = "coupon", _("Coupon")
    SERVICE = "service", _("Privilege or service")
    STORED_VALUE = "stored_value", _("Stored value / cash back")
    PARTNER = "partner", _("Partner reward")


class Fulfilment(models.TextChoices):
    PICKUP = "pickup", _("Pick up in store")
    DELIVERY = "delivery", _("Delivery")
    EITHER = "either", _("Pick up or delivery")
    DIGITAL = "digital", _("Delivered at once")


class LimitPeriod(models.TextChoices):
    DAY = "day", _("per day")
    MONTH = "month", _("per month")
    YEAR = "year", _("per year")
    EVER = "ever", _("in all")


class Reward(Bilingual, models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=RewardKind.choices)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    image = models.FileField(_("image"), upload_to="rewards/", blank=True)
    category = models.ForeignKey(
        RewardCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rewards",
        verbose_name=_("category"),
    )
    points = models.BigIntegerField(_("points"))
    cash = models.DecimalField(_("cash part"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="CNY")
    fulfilment = models.CharField(_("fulfilment"), max_length=10, choices=Fulfilment.choices)
    stock = models.IntegerField(_("stock"), null=True, blank=True)  # null: unlimited (codes: the pool)
    sold = models.IntegerField(default=0)
    total_limit = models.IntegerField(_("limit in all"), null=True, blank=True)
    per_member_limit = models.PositiveIntegerField(_("limit per member"), null=True, blank=True)
    per_member_period = models.CharField(
        _("per member period"), max_length=6, choices=LimitPeriod.choices, default=LimitPeriod.EVER
    )
    coupon_batch = models.ForeignKey(
        "CouponBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        verbose_name=_("coupon batch"),
    )
    service_days = models.PositiveIntegerField(_("valid for days"), null=True, blank=True)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)
    eligible_tiers = models.JSONField(_("eligible tiers"), default=list, blank=True)  # tier codes; [] = all
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name=_("visible in stores"))
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "points", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__isnull=True) | Q(stock__gte=0), name="reward_stock_not_negative"),
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(sold__lte=F("total_limit")), name="reward_sold_within_limit"
            ),
            models.CheckConstraint(condition=Q(points__gte=0) & Q(cash__gte=0), name="reward_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def display_description(self) -> str:
        return in_reader_language(self.description, self.description_en)


class PartnerCode(models.Model):
    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="partner_codes")
    code = models.CharField(max_length=100)
    order = models.OneToOneField(
        "RedemptionOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_code"
    )
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reward", "code"], name="partner_code_once_per_reward")]
        indexes = [models.Index(fields=["reward", "order"], name="partner_code_free_idx")]


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    CONFIRMED = "confirmed", _("Confirmed")
    FULFILLED = "fulfilled", _("Fulfilled")
    CANCELLED = "cancelled", _("Cancelled")


class OrderChannel(models.TextChoices):
    CONSOLE = "console", _("Console")
    API = "api", _("API")
    PORTAL = "portal", _("Member portal")


class RedemptionOrder(models.Model):
    number = models.CharField(_("order number"), max_length=20, unique=True)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="redemption_orders")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="orders")
    quantity = models.PositiveIntegerField(default=1)
    points = models.BigIntegerField()
    cash = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    channel = models.CharField(max_length=8, choices=OrderChannel.choices)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    placed_by = models.CharField(max_length=150, blank=True)
    hold = models.OneToOneField(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices)
    pickup_store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    address = models.JSONField(default=dict, blank=True)  # name, phone, address, postcode
    carrier = models.CharField(_("carrier"), max_length=40, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=60, blank=True)
    voucher_code = models.CharField(max_length=40, blank=True)  # a service voucher's code
    valid_until = models.DateTimeField(null=True, blank=True)  # a service voucher's end
    used_at = models.DateTimeField(null=True, blank=True)  # a service voucher used
    coupon = models.ForeignKey("Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True)  # the fulfiller's note (stored value credit id)
    cancel_reason = models.CharField(max_length=200, blank=True)
    placed_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["member", "reward", "placed_at"], name="order_member_reward_idx"),
            models.Index(fields=["status", "placed_at"], name="order_status_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.PLACED, OrderStatus.CONFIRMED)


# --------------------------------------------------------------------------- coupons


class CouponKind(models.TextChoices):
    AMOUNT_OFF = "amount_off", _("Amount off")
    PERCENT_OFF = "percent_off", _("Percent off")
    GIFT_ITEM = "gift_item", _("Gift item")
    FREE_SHIPPING = "free_shipping", _("Free shipping")


class CodeMode(models.TextChoices):
    UNIQUE = "unique", _("A unique code per coupon")
    SHARED = "shared", _("One shared code")


class Stacking(models.TextChoices):
    EXCLUSIVE = "exclusive", _("Exclusive: no other coupon on the order")
    STACKABLE = "stackable", _("Stackable with other coupons")


class CouponBatch(Bilingual, models.Model):
    code = models.SlugField(_("batch code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.CharField(_("terms"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=14, choices=CouponKind.choices)
    amount_off = models.DecimalField(_("amount off"), max_digits=12, decimal_places=2, null=True, blank=True)
    percent_off = models.PositiveSmallIntegerField(_("percent off"), null=True, blank=True)
    max_discount = models.DecimalField(_("largest discount"), max_digits=12, decimal_places=2, null=True, blank=True)
    gift_sku = models.CharField(_("gift SKU"), max_length=64, blank=True)
    currency = models.CharField(max_length=3, default="CNY")
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, default=0)
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name=_("stores"))
    categories = models.JSONField(_("categories"), default=list, blank=True)  # [] = the whole basket
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for days after issue"), null=True, blank=True)
    code_mode = models.CharField(_("codes"), max_length=6, choices=CodeMode.choices, default=CodeMode.UNIQUE)
    shared_code = models.CharField(_("shared code"), max_length=40, null=True, blank=True, unique=True)
    usage_limit = models.PositiveIntegerField(_("uses of the shared code"), null=True, blank=True)
    per_member_limit = models.PositiveIntegerField(_("limit per member"), default=1)
    total_limit = models.PositiveIntegerField(_("coupons in all"), null=True, blank=True)
    stacking = models.CharField(_("stacking"), max_length=10, choices=Stacking.choices, default=Stacking.EXCLUSIVE)
    max_per_order = models.PositiveSmallIntegerField(_("coupons per order at most"), default=1)
    claimable = models.BooleanField(_("members may claim it by code"), default=False)
    restore_on_refund = models.BooleanField(_("returned on a full refund"), default=True)
    unredeem_hours = models.PositiveIntegerField(_("a till may undo a use within hours"), default=24)
    # Counters kept only where a limit needs them (every coupon of a batch would otherwise queue on
    # this one row): issued_count with total_limit, redeemed_count for a shared code's usage_limit.
    issued_count = models.PositiveIntegerField(default=0)
    redeemed_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(issued_count__lte=F("total_limit")),
                name="coupon_batch_issued_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(redeemed_count__lte=F("usage_limit")),
                name="coupon_batch_used_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class CouponStatus(models.TextChoices):
    AVAILABLE = "available", _("Not yet issued")  # generated in bulk, waiting for a member or a till
    ISSUED = "issued", _("Issued")
    REDEEMED = "redeemed", _("Redeemed")
    EXPIRED = "expired", _("Expired")
    VOIDED = "voided", _("Voided")


class CouponSource(models.TextChoices):
    GENERATED = "generated", _("Generated in bulk")
    MANUAL = "manual", _("Issued by staff")
    BULK = "bulk", _("Issued to a group")
    REWARD = "reward", _("Points mall")
    TIER = "tier", _("Tier benefit")
    CLAIM = "claim", _("Claimed by code")
    CAMPAIGN = "campaign", _("Campaign")
    API = "api", _("API")


class Coupon(models.Model):
    batch = models.ForeignKey(CouponBatch, on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=40, null=True, blank=True, unique=True)  # null for shared-code coupons
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="coupons")
    status = models.CharField(max_length=10, choices=CouponStatus.choices)
    source = models.CharField(max_length=10, choices=CouponSource.choices)
    source_ref = models.CharField(max_length=100, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["member", "status"], name="coupon_member_idx"),
            models.Index(fields=["batch", "status"], name="coupon_batch_idx"),
        ]

    def __str__(self) -> str:
        return self.code or self.batch.shared_code or str(self.pk)


class CouponRedemption(models.Model):
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="redemptions")
    batch = models.ForeignKey(CouponBatch, on_delete=models.PROTECT, related_name="redemptions")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    api_key_id = models.IntegerField(null=True, blank=True)
    sale_external_id = models.CharField(max_length=64, blank=True)  # joins the sale (store, external id)
    order_amount = models.DecimalField(max_digits=14, decimal_places=2)
    discount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    redeemed_at = models.DateTimeField()
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_reason = models.CharField(max_length=40, blank=True)  # refund, till_undo, staff

    class Meta:
        constraints = [
            # Two tills racing on one coupon: the second insert waits on and then fails this key.
            models.UniqueConstraint(
                fields=["coupon"], condition=Q(reversed_at__isnull=True, coupon__isnull=False), name="coupon_used_once"
            ),
        ]
        indexes = [
            models.Index(fields=["store", "sale_external_id"], name="coupon_use_sale_idx"),
            models.Index(fields=["batch", "redeemed_at"], name="coupon_use_batch_idx"),
        ]


class AttemptCounter(models.Model):
    """Failed coupon lookups in one fixed window, for one API key or one member."""

    scope = models.CharField(max_length=40)  # "key:12" / "member:345"
    window = models.BigIntegerField()  # unix time // window length
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "window"], name="attempt_counter_window")]


# --------------------------------------------------------------------------- badges


class Badge(Bilingual, models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=60, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    description_en = models.CharField(_("English description"), max_length=200, blank=True)
    icon = models.CharField(_("icon"), max_length=8, default="🏅")
    color = models.CharField(_("colour"), max_length=7, default="#c9a227")
    rule = models.JSONField()  # validated by rewards.badges.BadgeRule
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_description(self) -> str:
        return in_reader_language(self.description, self.description_en)


class MemberBadge(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="badges")
    badge = models.ForeignKey(Badge, on_delete=models.CASCADE, related_name="holders")
    awarded_at = models.DateTimeField()
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-awarded_at"]
        constraints = [models.UniqueConstraint(fields=["member", "badge"], name="badge_once_per_member")]


class BirthdayGift(models.Model):
    """A tier's birthday gift given to a member for one year: the unique key makes it once a year,
    however often the daily job runs."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    tier_code = models.CharField(max_length=32)
    points = models.BigIntegerField(default=0)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    given_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "year"], name="birthday_gift_once_a_year")]
