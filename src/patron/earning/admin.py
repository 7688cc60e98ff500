from django.contrib import admin

from patron.core.admin import ReadOnlyAdmin
from patron.earning.models import ActivityAward, EarningRule, RuleBudget


@admin.register(EarningRule)
class EarningRuleAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "enabled", "priority", "preset", "updated_at", "updated_by")
    list_filter = ("enabled",)


@admin.register(RuleBudget)
class RuleBudgetAdmin(ReadOnlyAdmin):
    list_display = ("rule", "cap", "awarded")


@admin.register(ActivityAward)
class ActivityAwardAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "activity", "reference", "local_date", "points", "streak")
    list_filter = ("activity",)
