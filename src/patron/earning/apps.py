from django.apps import AppConfig


class EarningConfig(AppConfig):
    name = "patron.earning"
    label = "earning"
    verbose_name = "Earning rules"

    def ready(self) -> None:
        from patron.earning import pos
        from patron.members import services as member_services

        # Every new sale earns its points in the transaction that records it.
        member_services.register_transaction_hook("earning.sale", pos.earn_on_sale)
