from django.contrib import admin

from patron.core.admin import ReadOnlyAdmin
from patron.members.models import (
    AttributeDefinition,
    ConsentRecord,
    ImportJob,
    Member,
    MemberMerge,
    Store,
    Tag,
    TimelineEntry,
    Transaction,
)


@admin.register(Store)
class StoreAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "city", "region", "is_active")
    search_fields = ("code", "name", "city")


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    # The phone is left out on purpose: the console masks it and audits every reveal.
    list_display = ("member_no", "name", "status", "store", "joined_at", "join_channel")
    list_filter = ("status", "join_channel")
    search_fields = ("member_no", "card_no", "name_pinyin")
    exclude = ("phone", "phone_last4")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "store", "kind", "amount", "currency", "occurred_at")
    list_filter = ("kind", "channel")
    search_fields = ("external_id",)
    raw_id_fields = ("member", "original")


for model in (AttributeDefinition, ConsentRecord, ImportJob, MemberMerge, Tag, TimelineEntry):
    admin.site.register(model, ReadOnlyAdmin)
