"""Creating experiments."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from budgets import selectors as budget_selectors
from budgets import services as budget_services
from budgets.errors import Conflict, Invalid, NotFound
from budgets.models import ExperimentClass
from jobs.models import DataClassification, Experiment


def experiment_create(
    *,
    user: AbstractBaseUser,
    team: str,
    name: str,
    description: str = "",
    experiment_class: str | None = None,
    data_classification: str = DataClassification.INTERNAL,
    retention_days: int = 365,
) -> Experiment:
    """A new experiment in one of the user's teams (any member may create one).

    `team` and `experiment_class` are slugs. Another team is NotFound (field "team"), an unknown class
    Invalid, a name the team already uses Conflict (field "name"; the unique constraint decides races).
    """
    team_row = budget_selectors.teams_for_user(user).filter(slug=team).first()
    if team_row is None:
        raise NotFound(f"team {team!r} not found", field="team")
    klass = None
    if experiment_class:
        klass = ExperimentClass.objects.filter(slug=experiment_class).first()
        if klass is None:
            valid = ", ".join(ExperimentClass.objects.values_list("slug", flat=True))
            raise Invalid(f"unknown experiment class {experiment_class!r}; valid: {valid}", field="experiment_class")
    if data_classification not in DataClassification.values:
        raise Invalid(f"must be one of {', '.join(DataClassification.values)}", field="data_classification")
    try:
        with transaction.atomic():
            experiment = Experiment.objects.create(
                team=team_row,
                name=name.strip(),
                description=description,
                experiment_class=klass,
                data_classification=data_classification,
                retention_days=retention_days,
                created_by=user,
            )
            budget_services.audit_record(
                action="experiment.create",
                actor=user,
                team=team_row,
                target=f"experiment:{experiment.pk}",
                detail={"name": experiment.name, "experiment_class": experiment_class},
            )
    except IntegrityError:
        raise Conflict(f"team {team} already has an experiment named {name.strip()!r}", field="name") from None
    return experiment
