from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "patron.integrations"
    label = "integrations"
    verbose_name = "Integrations"
