from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    MEMBERS_READ = "members:read", _("Read members")
    MEMBERS_WRITE = "members:write", _("Create and update members")
    MEMBERS_PII = "members:pii", _("See full phone numbers and birthdays")
    TRANSACTIONS_WRITE = "transactions:write", _("Record transactions and refunds")
    POS = "pos", _("Identify members at the till")
    ACTIVITIES_WRITE = "activities:write", _("Award activity points")
    REWARDS_READ = "rewards:read", _("Read the points mall, members' coupons, orders and badges")
    REWARDS_REDEEM = "rewards:redeem", _("Place, confirm and cancel points mall orders")
    REWARDS_FULFIL = "rewards:fulfil", _("Fulfil points mall orders")
    COUPONS_ISSUE = "coupons:issue", _("Issue coupons to members")
    ANALYTICS_READ = "analytics:read", _("Read members' metrics, churn reasons and CLV")
    SEGMENTS_READ = "segments:read", _("List and evaluate segments and page through their members")
    SEGMENTS_WRITE = "segments:write", _("Freeze segment snapshots")


class ApiKey(models.Model):
    """A credential for one store's till or one integration. Only a hash of the key is kept; the
    request-signing secret is kept sealed (encrypted with a key derived from SECRET_KEY, ADR 0006)
    because the server must compute the same HMAC as the till."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)  # shown to people, used to find the key
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    store = models.ForeignKey("members.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="api_keys")
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    signing_secret_sealed = models.CharField(max_length=200, blank=True, default="")
    signing_secret_rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class UsedNonce(models.Model):
    """A nonce a key has signed a request with; the unique (key, nonce) pair refuses a replay.
    Rows older than the replay window are pruned (`api.prune_used_nonces`)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "nonce"], name="usednonce_once_per_key")]

    def __str__(self) -> str:
        return self.nonce
