"""The submit form: the job contract's envelope as a Django form, plus inputs generated from a circuit
family's pydantic params model.

Param inputs are named ``params.<field>`` — the same dotted path the contract and the services use in
their errors — so an error names its input directly.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from pydantic.fields import FieldInfo

from adapters.registry import all_capabilities
from budgets.models import ExperimentClass, Team
from budgets.selectors import teams_for_user
from jobs.contract import MAX_SHOTS
from jobs.families import family_names, get_family
from jobs.families.base import BITSTRING_PATTERN
from jobs.models import DataClassification
from jobs.selectors import experiments_for_user
from jobs.validation_text import sentence

TIER_CHOICES = [
    (0, "0 · Local simulator: free, seconds, exact up to ~28 qubits"),
    (1, "1 · Scaled simulator: MPS/stabilizer, larger circuits"),
    (2, "2 · Noisy simulator: a real device's noise model"),
    (3, "3 · Hardware (QPU): costs money, needs sign-off"),
]
PARAM_PREFIX = "params."
CODE_MIN_LENGTH = 1000  # text params allowed this long are programs, edited in a multi-line code box
# What a text input that does not parse is, in jobs.validation_text's terms.
_PARSE_ERRORS = {"int": "int_parsing", "float": "float_parsing", "json": "json_invalid"}


@dataclass
class ParamField:
    """One generated input for one family parameter."""

    name: str
    kind: str  # int | float | text | code | json | bool | choice
    value: Any
    description: str
    required: bool
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    error: str = ""
    example: str = ""  # code fields: the family's example, for the "insert example" button
    bits_of: str = ""  # a bitstring as long as this other param (its input name): resized with it until edited
    excerpt: str = ""  # code fields: the line an error names, with a caret under its column

    @property
    def input_name(self) -> str:
        return PARAM_PREFIX + self.name

    @property
    def input_id(self) -> str:
        return "id_params_" + self.name

    @property
    def type_hint(self) -> str:
        return {"json": "JSON", "int": "integer", "float": "number"}.get(self.kind, "")


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _kind(annotation: Any) -> tuple[str, tuple[Any, ...]]:
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) is Literal:
        return "choice", typing.get_args(annotation)
    base = typing.get_origin(annotation) or annotation
    if base is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if base is bool:
        return "bool", ()
    if base is int:
        return "int", ()
    if base is float:
        return "float", ()
    if base is str:
        return "text", ()
    return "json", ()


def _max_length(info: FieldInfo) -> int | None:
    return next((item.max_length for item in info.metadata if isinstance(item, annotated_types.MaxLen)), None)


def _pattern(info: FieldInfo) -> str | None:
    return next((getattr(item, "pattern", None) for item in info.metadata if getattr(item, "pattern", None)), None)


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            low = getattr(item, "ge", getattr(item, "gt", None))
        if isinstance(item, annotated_types.Le | annotated_types.Lt):
            high = getattr(item, "le", getattr(item, "lt", None))
    return low, high


def _display(kind: str, value: Any) -> Any:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value)
    return value


def family_fields(
    family_name: str, values: dict[str, Any] | None = None, *, params: dict[str, Any] | None = None
) -> list[ParamField]:
    """Inputs for a family's params, prefilled from `values` (raw strings from a POST), else `params`
    (a job's parsed params, for "edit and re-run"), else the example."""
    family = get_family(family_name)
    example = dict(family.example if params is None else params)
    model_fields = family.params_model.model_fields
    fields = []
    for name, info in model_fields.items():
        kind, choices = _kind(info.annotation)
        low, high = _bounds(info)
        if kind == "text" and (_max_length(info) or 0) >= CODE_MIN_LENGTH:
            kind = "code"  # a program: several lines, where a one-line input would drop the newlines
        if values is not None and name in values:
            value = values[name]
        else:
            value = example.get(name, None if info.is_required() else info.default)
            value = _display(kind, value)
        field = ParamField(name, kind, value, info.description or "", info.is_required(), low, high, choices)
        if kind == "code":
            field.example = str(example.get(name) or "")
        if kind == "text" and _pattern(info) == BITSTRING_PATTERN and "n_qubits" in model_fields:
            field.bits_of = PARAM_PREFIX + "n_qubits"
        fields.append(field)
    return fields


def _coerce(field: ParamField, raw: str) -> Any:
    if field.kind == "bool":
        return raw in {"on", "true", "1"}
    if field.kind == "int":
        return int(raw)
    if field.kind == "float":
        return float(raw)
    if field.kind == "json":
        return json.loads(raw)
    return raw


def params_from_post(family_name: str, data: Any) -> tuple[dict[str, Any], list[ParamField], dict[str, str]]:
    """The family's params parsed from the POST, the fields to re-render, and input errors by path."""
    raw = {name[len(PARAM_PREFIX) :]: data.get(name) for name in data if name.startswith(PARAM_PREFIX)}
    fields = family_fields(family_name, {k: v for k, v in raw.items() if v is not None})
    params, errors = {}, {}
    for field in fields:
        value = (raw.get(field.name) or "").strip()
        if field.kind == "code" and value:
            # browsers send a textarea's newlines as CRLF; leading blank lines stay, so that the
            # parser's line numbers are the ones the user sees
            value = (raw.get(field.name) or "").replace("\r\n", "\n").rstrip()
        if field.kind == "bool":
            params[field.name] = _coerce(field, value)
            continue
        if not value:
            if field.required:
                errors[field.input_name] = sentence(field.input_name, "missing")
            continue
        try:
            params[field.name] = _coerce(field, value)
        except (ValueError, json.JSONDecodeError):
            errors[field.input_name] = sentence(field.input_name, _PARSE_ERRORS.get(field.kind, "value_error"))
    return params, fields, errors


_WHERE = re.compile(r"\bline (\d+)(?:, column (\d+))?:")
EXCERPT_WIDTH = 100


def error_excerpt(program: str, message: str) -> str:
    """The program line an error message names ("line 7, column 3: …"), numbered, with a caret under
    the column; '' when the message names no line of the program."""
    where = _WHERE.search(message)
    lines = program.replace("\r\n", "\n").split("\n")
    if not where or not 1 <= int(where.group(1)) <= len(lines):
        return ""
    number = int(where.group(1))
    gutter = f"{number} | "
    text = lines[number - 1].replace("\t", " ")[:EXCERPT_WIDTH]
    excerpt = gutter + text
    if where.group(2) and int(where.group(2)) <= len(text) + 1:
        excerpt += "\n" + " " * (len(gutter) + int(where.group(2)) - 1) + "^"
    return excerpt


def attach_excerpts(fields: list[ParamField], errors: dict[str, str]) -> None:
    """Show each code field's error at its line."""
    for field in fields:
        if field.kind == "code" and errors.get(field.input_name):
            field.excerpt = error_excerpt(str(field.value or ""), errors[field.input_name])


def backend_choices() -> list[Any]:
    """Backends grouped by tier for a <select>; emulated devices say so in their label."""
    groups: dict[int, list[tuple[str, str]]] = {}
    for cap in sorted(all_capabilities(), key=lambda c: (c.tier, c.backend_id)):
        suffix = " (emulated)" if cap.emulated else ""
        groups.setdefault(cap.tier, []).append((cap.backend_id, f"{cap.backend_id}{suffix}"))
    tier_labels = dict(TIER_CHOICES)
    return [("", "Automatic: cheapest that fits")] + [
        (tier_labels[tier].split(":")[0], options) for tier, options in groups.items()
    ]


class SubmitForm(forms.Form):
    """The contract's envelope. Family params are handled by `params_from_post`."""

    experiment = forms.ModelChoiceField(queryset=None, empty_label=None)
    family = forms.ChoiceField(help_text="The problem to run; its parameters appear below.")
    shots = forms.IntegerField(min_value=1, max_value=MAX_SHOTS, initial=1000, help_text="Samples to draw.")
    max_tier = forms.TypedChoiceField(
        coerce=int,
        choices=TIER_CHOICES,
        initial=0,
        label="Highest tier",
        help_text="The portal picks the cheapest backend at or below this tier.",
    )
    priority = forms.ChoiceField(
        choices=[("interactive", "Interactive: results in seconds"), ("batch", "Batch: runs when workers are free")],
        initial="interactive",
    )
    backend = forms.ChoiceField(required=False, label="Pin a backend (optional)")
    labels = forms.CharField(required=False, help_text="Comma-separated, e.g. paper=2025, sweep:3", max_length=20 * 65)
    no_cache = forms.BooleanField(required=False, label="Run again even if an identical result exists")

    def __init__(self, *args: Any, user: AbstractBaseUser, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        experiments = experiments_for_user(user)
        self.fields["experiment"].queryset = experiments.filter(team=team) if team else experiments
        self.fields["experiment"].label_from_instance = lambda e: f"{e.name} · {e.team.name}"
        families = _latest_families()
        self.fields["family"].choices = [(f.name, f"{f.title} ({f.name})") for f in families]
        # which params each family has, so the page can tell at once which inputs a family switch keeps
        self.family_params = {f.name: " ".join(f.params_model.model_fields) for f in families}
        self.fields["backend"].choices = backend_choices()
        plain_error_messages(self)

    def job_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """The contract body (call after is_valid())."""
        data = self.cleaned_data
        labels = [label.strip() for label in data["labels"].split(",") if label.strip()]
        return {
            "experiment": data["experiment"].pk,
            "family": data["family"],
            "params": params,
            "shots": data["shots"],
            "max_tier": data["max_tier"],
            "priority": data["priority"],
            "backend": data["backend"] or None,
            "labels": labels,
            "no_cache": data["no_cache"],
        }


def _latest_families() -> list[Any]:
    return [get_family(name) for name in family_names()]


def error_target(field: str | None, form: SubmitForm) -> str:
    """Which input an error's dotted field path belongs to ('' for the form as a whole)."""
    if not field:
        return ""
    if field.startswith(PARAM_PREFIX):
        return PARAM_PREFIX + field[len(PARAM_PREFIX) :].split(".")[0].split("[")[0]
    head = field.split(".")[0].split("[")[0]
    return head if head in form.fields else ""


class ExperimentForm(forms.Form):
    """The fields of `services.experiment_create`; teams are limited to the user's own."""

    name = forms.CharField(max_length=200)
    team = forms.ChoiceField(help_text="The team whose budget pays for its jobs.")
    experiment_class = forms.ChoiceField(label="Class", help_text="Which budget line its jobs draw on.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    data_classification = forms.ChoiceField(choices=DataClassification.choices, initial=DataClassification.INTERNAL)

    def __init__(self, *args: Any, user: AbstractBaseUser, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [(t.slug, t.name) for t in teams_for_user(user)]
        self.fields["team"].initial = team.slug if team else None
        self.fields["experiment_class"].choices = [(c.slug, c.name) for c in ExperimentClass.objects.all()]
        plain_error_messages(self)


def plain_error_messages(form: forms.Form) -> None:
    """Django's own refusals ("Ensure this value is…", "Enter a whole number.") in the portal's wording
    (jobs.validation_text): a sentence naming the field and its limit, as the API says it."""
    for name, field in form.fields.items():
        field.error_messages.update(
            {
                "required": sentence(name, "missing"),
                "invalid_choice": f"{name} must be one of the choices offered.",
                "min_value": f"{name} must be at least %(limit_value)s.",
                "max_value": f"{name} must be at most %(limit_value)s.",
                "max_length": f"{name} must be at most %(limit_value)d characters long.",
            }
        )
        if isinstance(field, forms.IntegerField):
            field.error_messages["invalid"] = sentence(name, "int_parsing")
