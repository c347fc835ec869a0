"""The jobs app: wires the adapter registry and the worker schedules at start-up."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)

# Imported by a qcluster's parent process before it forks its workers: the simulator SDKs take a second
# or more to import, which every fresh or recycled worker would otherwise pay on its first task. Import
# only: never *run* a simulation in the parent — qsim's OpenMP thread pool does not survive fork, and a
# worker forked after it started hangs on its first run.
WARM_MODULES = ("cirq", "qsimcirq", "qiskit", "qiskit_aer", "qiskit_ibm_runtime", "adapters.convert")


def _is_qcluster() -> bool:
    return "qcluster" in sys.argv[1:2] or any(arg.endswith("qcluster") for arg in sys.argv[:2])


def _ensure_schedules(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from jobs.tasks import ensure_schedules

    ensure_schedules(using=using)


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Experiments and jobs"

    def ready(self) -> None:
        try:
            from adapters import registry
        except ImportError:  # the registry lands with the adapters work
            logger.warning("adapters.registry is not available; no backends configured")
        else:
            registry.configure(settings.HYBRIDPORTAL_BACKENDS)
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="jobs.ensure_schedules")
        from jobs import slow_reads  # noqa: F401 - connects the price-change receivers

        if _is_qcluster():
            for name in WARM_MODULES:
                try:
                    importlib.import_module(name)
                except ImportError:
                    logger.warning("could not pre-import %s in the cluster parent", name)
