from django.apps import AppConfig


class HybridPortalConfig(AppConfig):
    name = "hybridportal"
    verbose_name = "Hybrid Portal"

    def ready(self) -> None:
        from hybridportal import audit  # noqa: F401 - connects the sign-in audit receivers
        from hybridportal.observability import configure_tracing

        configure_tracing()
