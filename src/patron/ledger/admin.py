from django.contrib import admin

from patron.core.admin import ReadOnlyAdmin
from patron.ledger.models import Adjustment, Hold, Journal, Lot


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "member", "points", "created_at", "memo")
    list_filter = ("kind",)


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "point_type", "amount", "remaining", "pending", "expires_at")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "points", "status", "expires_at")


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "points", "status", "requested_label", "decided_label")
