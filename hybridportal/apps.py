from django.apps import AppConfig


class HybridPortalConfig(AppConfig):
    name = "hybridportal"
    verbose_name = "Hybrid Portal"

    def ready(self) -> None:
        from hybridportal.observability import configure_tracing

        configure_tracing()
