"""The "Run a suite" form: which suite, in which experiment, on which backends, how many trials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser

from adapters.registry import all_capabilities
from benchmarks import suites
from jobs.selectors import experiments_for_user


def _backend_label(caps: Any) -> str:
    tags = [f"tier {caps.tier}"]
    if caps.noise:
        tags.append("noisy")
    if caps.emulated:
        tags.append("emulated")
    return f"{caps.backend_id} ({', '.join(tags)})"


class RunSuiteForm(forms.Form):
    suite = forms.ChoiceField(choices=[(s.name, f"{s.title} — {s.description}") for s in suites.SUITES.values()])
    experiment = forms.TypedChoiceField(coerce=int)
    backends = forms.MultipleChoiceField(
        required=False,
        help_text="Leave empty for the suite's defaults. Problems too wide for a backend are skipped, with the reason.",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    trials = forms.IntegerField(
        required=False, min_value=1, max_value=suites.MAX_TRIALS, help_text="Empty: the suite's default."
    )
    shots = forms.IntegerField(
        required=False, min_value=1, max_value=suites.MAX_SHOTS, help_text="Empty: the suite's default."
    )

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["experiment"].choices = [
            (e.pk, f"{e.team.name} · {e.name}") for e in experiments_for_user(user).order_by("team__slug", "name")
        ]
        self.fields["backends"].choices = [(c.backend_id, _backend_label(c)) for c in all_capabilities()]
