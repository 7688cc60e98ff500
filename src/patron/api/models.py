from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    MEMBERS_READ = "members:read", _("Read members")
    MEMBERS_WRITE = "members:write", _("Create and update members")
    MEMBERS_PII = "members:pii", _("See full phone numbers and birthdays")
    TRANSACTIONS_WRITE = "transactions:write", _("Record transactions and refunds")
    POS = "pos", _("Identify members at the till")


class ApiKey(models.Model):
    """A credential for one store's till or one integration. Only a hash of the secret is kept."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)  # shown to people, used to find the key
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    store = models.ForeignKey("members.Store", null=True, blank=True, on_delete=models.PROTECT, related_name="api_keys")
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
