"""`patron demo-logins`: the demo accounts, one per role, and where to sign in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from patron.core.permissions import ROLE_LABELS
from patron.demo.generator import DEMO_PASSWORD, DEMO_URL, ROLE_USERS
from patron.members.models import StaffProfile


class Command(BaseCommand):
    help = "Print the demo staff accounts (role, username, password) and the console URL."

    def handle(self, *args: Any, **options: Any) -> None:
        existing = set(
            get_user_model()
            .objects.filter(username__in=[u for _r, u, _d in ROLE_USERS])
            .values_list("username", flat=True)
        )
        if not existing:
            self.stdout.write("No demo accounts yet: run `patron demo-data` first.")
            return
        stores = dict(
            StaffProfile.objects.filter(user__username__in=existing, store__isnull=False).values_list(
                "user__username", "store__name"
            )
        )
        self.stdout.write(f"Patron demo — sign in at {DEMO_URL}\n")
        self.stdout.write(f"{'role':<12} {'username':<18} {'password':<18} {'store':<10} description")
        self.stdout.write("-" * 80)
        for role, username, _display in ROLE_USERS:
            if username in existing:
                store = stores.get(username, "")
                self.stdout.write(
                    f"{role.value:<12} {username:<18} {DEMO_PASSWORD:<18} {store:<10} {ROLE_LABELS[role]}"
                )
