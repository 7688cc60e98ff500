from django.apps import AppConfig


class TiersConfig(AppConfig):
    name = "patron.tiers"
    label = "tiers"
    verbose_name = "Tiers"

    def ready(self) -> None:
        from patron.core import scheduler
        from patron.members import services as member_services
        from patron.tiers import services, tasks

        # After the ledger and earning hooks (order 30): the sale has earned its points, at the
        # tier the member held before it.
        member_services.register_transaction_hook("tiers.evaluate", services.on_transaction, order=30)
        member_services.register_merge_target("tier_changes", services.TierChange)
        scheduler.register("tiers.daily_review", scheduler.daily, tasks.review_tiers)
        from patron.tiers.views import register_member_section, register_timeline_sentences

        register_member_section()  # the member page's tier section
        register_timeline_sentences()
