from django.apps import AppConfig


class HybridPortalConfig(AppConfig):
    name = "hybridportal"
    verbose_name = "Hybrid Portal"

    def ready(self) -> None:
        # qiskit must be imported first on the main thread: imported inside a request thread that
        # later exits, its native extension crashes the process (SIGSEGV) on the next call from
        # another thread. Django's runserver and the live test server run each request in a thread.
        import qiskit  # noqa: F401

        from hybridportal import audit  # noqa: F401 - connects the sign-in audit receivers
        from hybridportal.observability import configure_tracing

        configure_tracing()
