"""The circuit-family registry: every problem a job may declare, by name and version.

Families are versioned so a stored job re-runs months later with the builder it was made with:
a changed builder is a new version beside the old one, never an edit of it.
"""

from __future__ import annotations

from jobs.errors import ContractError
from jobs.families import (
    bell,
    bernstein_vazirani,
    ghz,
    grover,
    mirror,
    openqasm,
    qaoa_maxcut,
    qft,
    quantum_volume,
    random,
    vqe_ising,
    zz_feature_map,
)
from jobs.families.base import Family, FamilyParams

__all__ = ["FAMILIES", "Family", "FamilyParams", "family_names", "get_family"]

_MODULES = (
    bell,
    ghz,
    qft,
    grover,
    bernstein_vazirani,
    qaoa_maxcut,
    vqe_ising,
    zz_feature_map,
    random,
    quantum_volume,
    mirror,
    openqasm,
)

FAMILIES: dict[str, dict[int, Family]] = {}
for _module in _MODULES:
    FAMILIES.setdefault(_module.FAMILY.name, {})[_module.FAMILY.version] = _module.FAMILY


def family_names() -> list[str]:
    """Family names in the order the UI and the documentation list them."""
    return list(FAMILIES)


def get_family(name: str, version: int | None = None) -> Family:
    """The family `name` at `version` (the latest when None); ContractError naming the field otherwise."""
    versions = FAMILIES.get(name)
    if versions is None:
        raise ContractError("family", f"family must be one of {', '.join(FAMILIES)}; {name!r} is not a family.")
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        allowed = ", ".join(str(v) for v in sorted(versions))
        raise ContractError(
            "family_version", f"family_version must be {allowed} for {name}; it has no version {version}."
        )
    return versions[version]
