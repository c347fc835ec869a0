"""Jobs for holds, made directly with the ORM (the submit pipeline is not what these tests are about)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobs.models import Job


def new_job(cast, *, team=None, experiment=None, status: str = "queued", **kw) -> Job:  # noqa: ANN001
    return Job.objects.create(
        team=team or cast.qlab,
        experiment=experiment or cast.qlab_experiment,
        experiment_class=cast.klass,
        submitted_by=kw.pop("submitted_by", cast.alice),
        family="ghz",
        family_version=1,
        shots=100,
        params={"n_qubits": 3},
        status=status,
        **kw,
    )


@pytest.fixture
def make_job(cast) -> Callable[..., Job]:  # noqa: ANN001
    return lambda **kw: new_job(cast, **kw)
