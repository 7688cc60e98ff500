from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patron.core"
    label = "core"
    verbose_name = "Patron core"

    def ready(self) -> None:
        from patron.core import scheduler, tasks

        scheduler.register("core.prune_idempotency_keys", scheduler.daily, tasks.prune_idempotency_keys)
        scheduler.register("core.prune_login_attempts", scheduler.hourly, tasks.prune_login_attempts)
