from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "patron.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from patron.api import tasks
        from patron.core import scheduler

        scheduler.register("api.prune_used_nonces", tasks.every_ten_minutes, tasks.prune_used_nonces)
