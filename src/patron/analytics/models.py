"""The analytics app's tables: its settings, the per-member metrics the nightly job writes, the
lifecycle transitions between two runs, churn episodes and the runs themselves."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.members.models import Member


class AnalyticsSettings(models.Model):
    """One row: the job's windows, bands and cut points, validated as `analytics.config.Settings`."""

    config = models.JSONField(default=dict)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL = "potential", _("Potential loyalists")
    NEW = "new", _("New customers")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class ValueClass(models.TextChoices):
    A = "A", _("A: frequent and high spend")
    B = "B", _("B: regular")
    C = "C", _("C: spends but seldom")
    D = "D", _("D: low value")


class LifecycleStage(models.TextChoices):
    # In their own context: "Active" and "New" mean other things elsewhere (a member's status).
    PROSPECT = "prospect", pgettext_lazy("lifecycle stage", "Prospect")
    NEW = "new", pgettext_lazy("lifecycle stage", "New")
    ACTIVE = "active", pgettext_lazy("lifecycle stage", "Active")
    MATURE = "mature", pgettext_lazy("lifecycle stage", "Mature")
    AT_RISK = "at_risk", pgettext_lazy("lifecycle stage", "At risk")
    LAPSED_RECENT = "lapsed_recent", pgettext_lazy("lifecycle stage", "Lapsed (recent)")
    LAPSED_MID = "lapsed_mid", pgettext_lazy("lifecycle stage", "Lapsed (mid-term)")
    DORMANT = "dormant", pgettext_lazy("lifecycle stage", "Dormant")


class MemberMetrics(models.Model):
    """A member's figures as of the last refresh. Rewritten whole by every run; read by segments,
    the dashboard and the member page. Money is in the program's currency."""

    # No foreign-key constraint in the database: the refresh writes a million rows a night from the
    # members it has just read, and PostgreSQL's per-row constraint checks doubled the write (measured
    # in ADR 0012). The ORM still cascades a member's deletion.
    member = models.OneToOneField(
        Member, primary_key=True, on_delete=models.CASCADE, related_name="metrics", db_constraint=False
    )
    as_of = models.DateField()
    first_purchase = models.DateField(null=True)
    last_purchase = models.DateField(null=True)
    purchase_days = models.IntegerField(default=0)  # distinct days with a sale, lifetime
    receipts = models.IntegerField(default=0)
    purchase_days_short = models.IntegerField(default=0)  # in the short/medium/long windows
    purchase_days_medium = models.IntegerField(default=0)
    purchase_days_long = models.IntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)  # net of refunds, lifetime
    spend_short = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    spend_medium = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    spend_long = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    average_basket = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    interval_mean = models.FloatField(null=True)  # days between purchase days
    interval_median = models.FloatField(null=True)
    interval_spread = models.FloatField(null=True)  # standard deviation
    refunds = models.IntegerField(default=0)
    refunded = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    points_earned = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)
    categories = models.JSONField(default=list)  # distinct categories bought, sorted
    recency_days = models.IntegerField(null=True)
    rfm_frequency = models.IntegerField(default=0)
    rfm_monetary = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    r_score = models.SmallIntegerField(null=True)
    f_score = models.SmallIntegerField(null=True)
    m_score = models.SmallIntegerField(null=True)
    rfm_segment = models.CharField(max_length=12, choices=RfmSegment.choices, blank=True)
    value_class = models.CharField(max_length=1, choices=ValueClass.choices, blank=True)
    lifecycle_stage = models.CharField(max_length=14, choices=LifecycleStage.choices)
    overdue = models.BooleanField(default=False)
    gone_cold = models.BooleanField(default=False)
    cold_recent = models.IntegerField(default=0)  # purchase days in the recent period
    cold_base = models.IntegerField(default=0)  # and in the base period before it
    p_alive = models.FloatField(null=True)
    expected_purchases = models.FloatField(null=True)  # over the settings' horizon
    expected_value = models.DecimalField(max_digits=14, decimal_places=2, null=True)  # per purchase
    clv = models.DecimalField(max_digits=14, decimal_places=2, null=True)

    # No secondary indexes: segments and the dashboard read large shares of the table (a stage, a
    # segment, a score is ~5-50% of the members), which a scan serves better, and keeping three
    # indexes up to date doubled the nightly COPY (ADR 0012).


class LifecycleTransition(models.Model):
    """A member moved from one stage to another between two runs (`day` is the later run's)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lifecycle_transitions")
    day = models.DateField()
    from_stage = models.CharField(max_length=14, choices=LifecycleStage.choices, blank=True)  # blank: joined
    to_stage = models.CharField(max_length=14, choices=LifecycleStage.choices)

    class Meta:
        indexes = [models.Index(fields=["day", "from_stage", "to_stage"], name="lifecycle_day_idx")]


class ChurnKind(models.TextChoices):
    OVERDUE = "overdue", _("Overdue for the usual purchase")
    GONE_COLD = "gone_cold", _("Gone cold")


class ChurnEpisode(models.Model):
    """From the run that first flagged a member until the run that no longer does. Its event is
    published once, when it opens."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="churn_episodes")
    kind = models.CharField(max_length=10, choices=ChurnKind.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    detail = models.JSONField(default=dict)  # the figures behind the reason when it opened

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind"], condition=Q(ended_on__isnull=True), name="churn_one_open_episode"
            )
        ]


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class MetricsRun(models.Model):
    as_of = models.DateField()
    engine = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    members = models.IntegerField(default=0)
    seconds = models.JSONField(default=dict)  # per phase: read, compute, clv, write
    clv_fit = models.JSONField(default=dict)  # fitted parameters and log-likelihood
    settings = models.JSONField(default=dict)  # the settings the run used
    error = models.TextField(blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    # Which transactions the run read: {"upto": the highest id, "unread": ids up to it it did not see
    # (a sale not yet committed then, or an id never used)}. `analytics.spend` counts the others
    # as news since the run. Empty when the engine read its own tables.
    read_mark = models.JSONField(default=dict)

    class Meta:
        constraints = [
            # Two refreshes at once (the nightly job and "refresh now") would each replace the
            # metrics: the second start is refused here, not by a look that both could pass.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="running"), name="analytics_one_running_refresh"
            )
        ]


class Segment(models.Model):
    """A saved audience (人群): rules over members (`analytics.segments`), evaluated when used."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    rules = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=150, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # The count the last time anyone looked, for the list page (a live count is one click away).
    last_count = models.IntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name"], condition=Q(archived_at__isnull=True), name="segment_live_name")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(models.Model):
    """A segment's members frozen at one moment, so a campaign's audience does not shift mid-send."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="snapshots")
    label = models.CharField(_("label"), max_length=100, blank=True)
    rules = models.JSONField(default=dict)  # the rules as they were
    taken_at = models.DateTimeField()
    taken_by = models.CharField(max_length=150, blank=True)
    member_count = models.IntegerField(default=0)


class SnapshotMember(models.Model):
    snapshot = models.ForeignKey(SegmentSnapshot, on_delete=models.CASCADE, related_name="members")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "member"], name="snapshot_member_once")]
