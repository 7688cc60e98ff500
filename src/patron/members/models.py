from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Store(models.Model):
    code = models.CharField(_("store code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=50)
    region = models.CharField(_("region"), max_length=50, blank=True)  # province / region
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class StaffProfile(models.Model):
    """Binds a staff account to a store (cashiers and promoters work in one)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    phone = models.CharField(max_length=20, blank=True)


class MemberStatus(models.TextChoices):
    PENDING = "pending", _("Pending entry")
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Application rejected")
    MERGED = "merged", _("Merged into another member")
    ERASED = "erased", _("Erased")


# A phone number may belong to one member at a time while that membership is alive.
LIVE_STATUSES = [MemberStatus.PENDING, MemberStatus.ACTIVE, MemberStatus.FROZEN]


class Gender(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNKNOWN = "U", _("Unknown")


class JoinChannel(models.TextChoices):
    STORE = "store", _("In store")
    ONLINE = "online", _("Online shop")
    APP = "app", _("App / mini program")
    WECHAT = "wechat", _("WeChat")
    PHONE = "phone", _("Call center")
    EVENT = "event", _("Event")
    REFERRAL = "referral", _("Referral")
    IMPORT = "import", _("Import")


class EntryRoute(models.TextChoices):
    OPEN = "open", _("Open sign-up")
    FIRST_PURCHASE = "first_purchase", _("First purchase")
    FEE = "fee", _("Membership fee")
    APPLICATION = "application", _("Application approved by staff")


class Member(models.Model):
    member_no = models.CharField(_("member number"), max_length=20, unique=True)
    card_no = models.CharField(_("card number"), max_length=32, null=True, blank=True, unique=True)
    name = models.CharField(_("name"), max_length=100)
    # Search keys kept in step with the name: full pinyin "zhangwei" and initials "zw".
    name_pinyin = models.CharField(max_length=200, db_index=True, editable=False)
    name_initials = models.CharField(max_length=50, db_index=True, editable=False)
    phone = models.CharField(_("mobile phone"), max_length=20)  # E.164
    phone_last4 = models.CharField(max_length=4, db_index=True, editable=False)
    email = models.EmailField(_("email"), blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    # The member's own IANA zone for their local day (check-in); blank: the program's zone. A database
    # default too, so bulk writers (imports, the demo generator) that do not name it still insert.
    time_zone = models.CharField(_("time zone"), max_length=40, blank=True, default="", db_default="")
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    joined_at = models.DateTimeField(_("joined"), db_index=True)
    join_channel = models.CharField(_("join channel"), max_length=20, choices=JoinChannel.choices)
    entry_route = models.CharField(_("entry route"), max_length=20, choices=EntryRoute.choices, default=EntryRoute.OPEN)
    referrer = models.ForeignKey(
        "self", verbose_name=_("referrer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="referees"
    )
    promoter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("promoter"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signed_up_members",
    )
    status = models.CharField(_("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=Q(status__in=LIVE_STATUSES), name="member_one_live_per_phone"
            ),
        ]
        indexes = [
            models.Index(fields=["phone"], name="member_phone_idx"),
            models.Index(fields=["name"], name="member_name_idx"),
            models.Index(fields=["store", "joined_at"], name="member_store_joined_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.member_no})"


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    INTEGER = "integer", _("Whole number")
    DECIMAL = "decimal", _("Decimal number")
    BOOLEAN = "boolean", _("Yes / no")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")


class AttributeDefinition(models.Model):
    """An extended-profile field the program defines (e.g. car owner, child age band)."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    label = models.CharField(_("label (Chinese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=AttributeType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    sensitive = models.BooleanField(_("sensitive"), default=False, help_text=_("Needs consent to store"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class MemberAttribute(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="attributes")
    definition = models.ForeignKey(AttributeDefinition, on_delete=models.PROTECT, related_name="values")
    value = models.JSONField()
    source = models.CharField(max_length=20)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "definition"], name="member_attribute_once")]


class TagSource(models.TextChoices):
    AGENT = "agent", _("Staff")
    EVENT = "event", _("Event")
    SURVEY = "survey", _("Survey")
    IMPORT = "import", _("Import")
    RULE = "rule", _("Rule")
    API = "api", _("API")


class Tag(models.Model):
    name = models.CharField(_("tag"), max_length=50, unique=True)
    name_en = models.CharField(_("English name"), max_length=50, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MemberTag(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="member_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="member_tags")
    source = models.CharField(max_length=10, choices=TagSource.choices)
    tagged_at = models.DateTimeField()
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="member_tag_once")]
        indexes = [models.Index(fields=["tag", "member"], name="membertag_tag_member_idx")]


class ConsentPurpose(models.TextChoices):
    TERMS = "terms", _("Membership terms")
    SMS_MARKETING = "sms_marketing", _("SMS marketing")
    EMAIL_MARKETING = "email_marketing", _("Email marketing")
    PROFILING = "profiling", _("Profiling and analytics")
    SENSITIVE = "sensitive", _("Sensitive attributes")
    PARTNER_SHARING = "partner_sharing", _("Sharing with partners")


class ConsentRecord(models.Model):
    """Append-only: the current consent for a purpose is the latest record for it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices)
    granted = models.BooleanField()
    notice_version = models.CharField(max_length=20)
    source = models.CharField(max_length=20)  # console, portal, pos, api, import
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "purpose", "-at"], name="consent_member_purpose_idx")]


class Channel(models.TextChoices):
    STORE = "store", _("Store")
    ONLINE = "online", _("Online")
    PHONE = "phone", _("Phone")


class TransactionKind(models.TextChoices):
    SALE = "sale", _("Sale")
    REFUND = "refund", _("Refund")


class Transaction(models.Model):
    """A purchase fact (or its refund). Other capabilities (points, tiers, analytics) build on it."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transactions")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=6, choices=TransactionKind.choices, default=TransactionKind.SALE)
    original = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    external_id = models.CharField(_("external id"), max_length=64)
    occurred_at = models.DateTimeField(_("time"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)  # refunds are positive too
    currency = models.CharField(max_length=3)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.STORE)
    source = models.CharField(max_length=10, default="api")  # api, console, import, demo
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "external_id"], name="transaction_external_id_per_store"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="transaction_amount_not_negative"),
        ]
        indexes = [
            # Covering the columns replays read (tier simulation, re-evaluation): a member's
            # transactions in time order come from the index alone, without a lookup per row.
            models.Index(
                fields=["member", "occurred_at", "id", "kind", "amount", "original"], name="txn_member_time_idx"
            ),
            models.Index(fields=["occurred_at"], name="txn_time_idx"),
        ]


class TransactionLine(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    category = models.CharField(max_length=64, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    amount = models.DecimalField(max_digits=14, decimal_places=2)


class TimelineEntry(models.Model):
    """One row per state change of a member, read by the member page. Rendered from kind + data."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=50)
    data = models.JSONField(default=dict)
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "-at"], name="timeline_member_at_idx")]


class MemberMerge(models.Model):
    """Two records of one person made one. `moved` lists every row moved, so an admin can undo."""

    survivor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_absorbed")
    absorbed = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_into")
    moved = models.JSONField(default=dict)
    reason = models.CharField(max_length=200)
    merged_at = models.DateTimeField()
    merged_by = models.CharField(max_length=150)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=150, blank=True)


class ImportKind(models.TextChoices):
    MEMBERS = "members", _("Members")
    TRANSACTIONS = "transactions", _("Transactions")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    VALIDATED = "validated", _("Checked")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    filename = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)  # our field -> column header in the file
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_rows = models.IntegerField(default=0)
    processed_rows = models.IntegerField(default=0)  # resume point: rows before this are committed
    created_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.IntegerField()
    column = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["line", "id"]
