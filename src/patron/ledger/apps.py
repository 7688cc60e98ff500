from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "patron.ledger"
    label = "ledger"
    verbose_name = "Points ledger"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from patron.core import scheduler
        from patron.ledger import guard, services, tasks
        from patron.members import services as member_services

        connection_created.connect(guard.register_sqlite_function, dispatch_uid="patron_ledger_guard")
        member_services.register_transaction_hook("ledger.refund", services.on_transaction, order=10)
        scheduler.register("ledger.release_pending_points", scheduler.hourly, tasks.release_pending_points)
        scheduler.register("ledger.expire_points", scheduler.daily, tasks.expire_points)
        scheduler.register("ledger.expire_holds", scheduler.hourly, tasks.expire_holds)
        from patron.ledger.views import register_member_section, register_timeline_sentences

        register_member_section()  # the member page's points section
        register_timeline_sentences()
