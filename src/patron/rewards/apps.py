from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "patron.rewards"
    label = "rewards"
    verbose_name = "Rewards"

    def ready(self) -> None:
        from patron.core import scheduler
        from patron.core.events import subscribe
        from patron.earning.events import ActivityAwarded
        from patron.members import services as member_services
        from patron.members.events import TransactionRecorded
        from patron.rewards import services, tasks
        from patron.tiers.events import TierUpgraded

        # After ledger, earning and tiers: a full refund hands back the coupons its sale used.
        member_services.register_transaction_hook("rewards.coupons", services.on_transaction, order=40)
        scheduler.register("rewards.upkeep", scheduler.hourly, tasks.upkeep)
        scheduler.register("rewards.birthday_gifts", scheduler.daily, tasks.birthday_gifts)

        # Badges react to facts after they commit.
        subscribe(TransactionRecorded)(services.badges_after_sale)
        subscribe(ActivityAwarded)(services.badges_after_activity)
        subscribe(TierUpgraded)(services.badges_after_tier_move)

        # The member page's sections and the timeline's sentences (the console's pages).
        from patron.rewards.views import register_member_sections, register_timeline_sentences

        register_member_sections()
        register_timeline_sentences()
