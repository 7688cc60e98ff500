from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from patron.core.permissions import Role


class User(AbstractUser):
    """A staff account. Members never log in with this model (they use the portal's phone codes)."""

    role = models.CharField(_("role"), max_length=20, choices=[(r.value, r.value) for r in Role], default=Role.AGENT)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username


class AuditEntry(models.Model):
    """Who did what, when, to which object, with the state before and after. Append-only."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)  # kept when the account is gone; API key names
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]


class ScheduledRun(models.Model):
    """One row per (job, period): the unique key is what makes a periodic job run once per period."""

    job = models.CharField(max_length=100)
    period = models.CharField(max_length=40)
    enqueued_at = models.DateTimeField()
    task_result_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="scheduledrun_once_per_period")]


class IdempotencyRecord(models.Model):
    """A claimed client key: the first request's fingerprint and response, replayed on retries."""

    scope = models.CharField(max_length=100)  # e.g. the API key id: keys are per client
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_once")]


class LoginAttempt(models.Model):
    """Failed console logins, for lockout."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)
