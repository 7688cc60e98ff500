from django.contrib import admin

from patron.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "store", "created_at", "revoked_at", "last_used_at")
    readonly_fields = ("prefix", "secret_hash", "created_at", "last_used_at", "signing_secret_rotated_at")
    exclude = ("signing_secret_sealed",)  # sealed bytes help nobody; rotate on the API keys page
