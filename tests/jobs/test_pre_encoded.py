"""A submitted job's circuit is saved from the JSON text its fingerprint was computed over (no second
serialisation); what is read back is the circuit, and a circuit changed in place is saved as changed."""

from __future__ import annotations

from jobs.models import Job
from jobs.services import job_submit
from tests.jobs.orch_support import ghz


def test_the_stored_circuit_is_the_submitted_one(cast):
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 4)).job
    stored = Job.objects.get(pk=job.pk).circuit
    assert stored == job.circuit and stored["n_qubits"] == 4 and len(stored["ops"]) == 4


def test_a_circuit_changed_in_place_is_saved_as_changed(cast):
    job = job_submit(user=cast.alice, request=ghz(cast.qlab_experiment, 3)).job
    job.circuit["name"] = "renamed"
    job.circuit.update(measure=[2, 1, 0])
    job.save(update_fields=["circuit"])
    stored = Job.objects.get(pk=job.pk).circuit
    assert stored["name"] == "renamed" and stored["measure"] == [2, 1, 0]
