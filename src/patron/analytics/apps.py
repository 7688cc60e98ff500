from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "patron.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from patron.analytics import tasks
        from patron.core import scheduler

        scheduler.register("analytics.refresh", scheduler.daily, tasks.refresh_metrics)

        from patron.analytics.views import register_member_section

        register_member_section()
