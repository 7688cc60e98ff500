from django.apps import AppConfig


class EarningConfig(AppConfig):
    name = "patron.earning"
    label = "earning"
    verbose_name = "Earning rules"
