"""Factories for tests: plain functions with sensible defaults, no fixture files."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from budgets.models import Budget, ExperimentClass, Membership, Role, Team
from budgets.money import to_micros
from budgets.services import budget_set
from jobs.models import Experiment

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def make_team(slug: str | None = None, **kw: Any) -> Team:
    slug = slug or f"team{next(_seq)}"
    team, _ = Team.objects.get_or_create(slug=slug, defaults={"name": kw.get("name", slug.title())})
    return team


def make_class(slug: str = "algorithm_validation", **kw: Any) -> ExperimentClass:
    klass, _ = ExperimentClass.objects.get_or_create(
        slug=slug, defaults={"name": slug.replace("_", " ").capitalize(), **kw}
    )
    return klass


def make_user(
    username: str | None = None, team: Team | None = None, role: str = Role.RESEARCHER, **kw: Any
) -> AbstractBaseUser:
    username = username or f"user{next(_seq)}"
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.org", **kw
    )
    if team is not None:
        Membership.objects.create(user=user, team=team, role=role)
    return user


def make_budget(
    team: Team,
    klass: ExperimentClass | None = None,
    *,
    limit: str = "100.00",
    threshold: str = "10.00",
    max_tier: int = 3,
) -> Budget:
    return budget_set(
        team=team,
        experiment_class=klass or make_class(),
        limit_micros=to_micros(limit),
        approval_threshold_micros=to_micros(threshold),
        max_tier=max_tier,
    )


def make_experiment(team: Team, klass: ExperimentClass | None = None, name: str | None = None) -> Experiment:
    return Experiment.objects.create(
        team=team, name=name or f"experiment {next(_seq)}", experiment_class=klass or make_class()
    )


def make_job(experiment: Experiment, user: AbstractBaseUser, **fields: Any) -> Any:
    """A Job row written directly, for tests of reads (dashboards, metrics, selectors).
    Tests of behaviour submit through jobs.services.job_submit instead."""
    from jobs.models import Job

    defaults: dict[str, Any] = {
        "team": experiment.team,
        "experiment": experiment,
        "experiment_class": experiment.experiment_class or make_class(),
        "submitted_by": user,
        "family": "ghz",
        "family_version": 1,
        "params": {"n_qubits": 3},
        "shots": 100,
        "backend": "qsim",
        "tier": 0,
    }
    return Job.objects.create(**{**defaults, **fields})
