"""SDK versions pinned into every fingerprint and run record, so a result can be re-run months later."""

from __future__ import annotations

import functools
from importlib import metadata

PACKAGES = ("cirq-core", "qsimcirq", "qiskit", "qiskit-aer", "qiskit-ibm-runtime", "numpy")


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    out = []
    for name in PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "missing"))
    return tuple(out)


def sdk_versions() -> dict[str, str]:
    """Installed versions of the quantum SDKs (package metadata only: importing nothing heavy). Cached."""
    return dict(_versions())


def sdk_version(package: str) -> str:
    return sdk_versions().get(package) or metadata.version(package)
