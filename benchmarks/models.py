"""Benchmark runs: which suite ran on which backends, and the job behind every trial.

A run stores no results of its own: its status and every number on its page are derived from its
jobs (`benchmarks.selectors`), so a run is as reproducible as the jobs it points to.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from budgets.models import Team
from jobs.models import Experiment, Job


class BenchmarkRun(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="benchmark_runs")
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="benchmark_runs")
    suite = models.CharField(max_length=64)
    # What was asked for: backends, trials, shots, the run seed, the problems and the skipped
    # (problem, backend) pairs with the reason each was skipped.
    config = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="benchmark_runs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "-created_at"], name="benchrun_team_created")]

    def __str__(self) -> str:
        return f"{self.suite} run {self.pk}"

    @property
    def label(self) -> str:
        """The job label every job of this run carries (`run:<id>`)."""
        return f"run:{self.pk}"


class BenchmarkTrial(models.Model):
    """One trial of one problem on one backend: one job."""

    run = models.ForeignKey(BenchmarkRun, on_delete=models.CASCADE, related_name="trials")
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="benchmark_trials")
    problem = models.CharField(max_length=100)  # e.g. "ghz-5"
    backend = models.CharField(max_length=100)
    trial = models.PositiveIntegerField()

    class Meta:
        ordering = ["run", "problem", "backend", "trial"]
        constraints = [models.UniqueConstraint(fields=["run", "problem", "backend", "trial"], name="benchtrial_unique")]

    def __str__(self) -> str:
        return f"{self.problem} on {self.backend} #{self.trial}"
