from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from patron.core.models import AuditEntry, User


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Patron", {"fields": ("role", "display_name")}))  # type: ignore[misc]
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action",)
    search_fields = ("object_id", "actor_label", "action")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Back-office browsing of domain tables. Writes go through the console and the services, which
    keep invariants, timelines and the audit log; the admin only looks."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
