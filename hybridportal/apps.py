from django.apps import AppConfig


class HybridPortalConfig(AppConfig):
    name = "hybridportal"
    verbose_name = "Hybrid Portal"
