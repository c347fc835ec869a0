"""The web UI for jobs: dashboard, submit, job pages, experiments, approvals and backends.

Views parse, call one selector or service, and render. Reads are scoped to the user's teams by the
selectors (another team's job or experiment is a 404); the top bar's team switcher narrows them further.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from adapters.registry import all_capabilities
from budgets.errors import NotFound, ServiceError
from budgets.selectors import current_team
from jobs import charts, rerun, services
from jobs.confirm import EstimateChanged, ShownEstimate, confirmation_text, submit_as_shown
from jobs.contract import ContractError
from jobs.estimates import estimate_vs_actual
from jobs.families import family_names
from jobs.forms import (
    ExperimentForm,
    SubmitForm,
    attach_excerpts,
    error_target,
    family_fields,
    params_from_post,
)
from jobs.models import Job, JobStatus
from jobs.selectors import (
    approvals_pending_for_user,
    approvals_waiting_count,
    experiment_get_for_user,
    experiments_for_user,
    job_events,
    job_get_for_user,
    job_hold,
    jobs_for_user,
)
from jobs.ui import (
    JOB_SORTS,
    approval_rows,
    backends_overview,
    dashboard_panel_context,
    job_actions,
    recent_decisions_by_others,
)

PAGE_SIZE = 25
DASHBOARD_PANELS = ("queues", "running", "runtimes", "failures", "budgets", "approvals", "recent")


def _not_found_as_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Another team's object and a missing one look the same: 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapper


def _capabilities_by_tier() -> list[Any]:
    return sorted(all_capabilities(), key=lambda c: (c.tier, c.backend_id))


def _scoped(request: HttpRequest, queryset: Any) -> Any:
    team = current_team(request)
    return queryset.filter(team=team) if team is not None else queryset


# --- dashboard ------------------------------------------------------------------------------------
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {name: dashboard_panel_context(request, name) for name in DASHBOARD_PANELS}
    return render(request, "jobs/dashboard.html", {"panels": context})


@login_required
def dashboard_panel(request: HttpRequest, panel: str) -> HttpResponse:
    if panel not in DASHBOARD_PANELS:
        raise Http404("no such panel")
    context = {"panels": {panel: dashboard_panel_context(request, panel)}}
    return render(request, f"jobs/dashboard.html#{panel}", context)


# --- submit ---------------------------------------------------------------------------------------
def _submit_context(request: HttpRequest) -> dict[str, Any]:
    """The bound form, the family's param inputs, the contract body and the errors by input name."""
    data = request.POST if request.method == "POST" else None
    initial = {"family": request.GET.get("family", "ghz"), "experiment": request.GET.get("experiment")}
    # "Edit and re-run": ?rerun=<job id> prefills the form with that job's request.
    source = job_get_for_user(request.user, request.GET["rerun"]) if data is None and "rerun" in request.GET else None
    if source is not None:
        initial = rerun.form_initial(source)
    form = SubmitForm(data, user=request.user, team=current_team(request), initial=initial)
    family = (data or {}).get("family") or initial["family"]
    if data is None:
        fields = family_fields(family, params=source.params if source is not None else None)
        return {"form": form, "param_fields": fields, "errors": {}, "body": None, "rerun_of": source}
    params, fields, errors = params_from_post(family, data)
    body = form.job_request(params) if form.is_valid() and not errors else None
    errors.update({name: "; ".join(errs) for name, errs in form.errors.items()})
    return {"form": form, "param_fields": fields, "errors": errors, "body": body}


def _show_quote(context: dict[str, Any], quote: services.Quote) -> None:
    """The estimate, the hidden inputs that post it back, and the question asked before submitting."""
    context.update(quote=quote, shown=ShownEstimate.of_quote(quote).as_post(), confirm=confirmation_text(quote))


def _attach_error(context: dict[str, Any], exc: ContractError | ServiceError) -> None:
    """Every refused field's message next to its input (the form as a whole where it has none)."""
    listed = exc.errors if isinstance(exc, ContractError) else exc.detail
    if not (isinstance(listed, list) and listed and all(isinstance(e, dict) and "message" in e for e in listed)):
        listed = [{"field": exc.field, "message": exc.message}]
    by_target: dict[str, list[str]] = {}
    for err in listed:
        by_target.setdefault(error_target(err.get("field"), context["form"]) or "__all__", []).append(err["message"])
    context["errors"].update({target: " ".join(texts) for target, texts in by_target.items()})


@login_required
@_not_found_as_404
def submit(request: HttpRequest) -> HttpResponse:
    context = _submit_context(request)
    if context["body"] is not None:
        shown = ShownEstimate.from_post(request.POST)
        try:
            job = submit_as_shown(user=request.user, request=context["body"], shown=shown)
        except EstimateChanged as changed:
            _show_quote(context, changed.quote)
            context["estimate_changed"] = True
            return render(request, "jobs/submit.html", context, status=409)
        except (ContractError, ServiceError) as exc:
            _attach_error(context, exc)
        else:
            messages.success(request, f"Job {str(job.id)[:8]} submitted ({job.get_status_display().lower()}).")
            return redirect("job_detail", job_id=job.id)
    attach_excerpts(context["param_fields"], context["errors"])
    status = 422 if context["errors"] else 200
    return render(request, "jobs/submit.html", context, status=status)


@login_required
def submit_params(request: HttpRequest) -> HttpResponse:
    try:
        fields = family_fields(request.GET.get("family", "ghz"))
    except ContractError as exc:
        raise Http404("no such family") from exc
    response = render(request, "jobs/submit.html#param-fields", {"param_fields": fields, "errors": {}})
    response["HX-Trigger-After-Settle"] = "params-loaded"
    return response


def _error_slots(context: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(element id, message, excerpt) for every input's error slot; empty messages clear earlier errors."""
    form, errors = context["form"], context["errors"]
    attach_excerpts(context["param_fields"], errors)
    slots = [(f"err-{form[name].id_for_label}", errors.get(name, ""), "") for name in form.fields]
    slots += [(f"err-{pf.input_id}", errors.get(pf.input_name, ""), pf.excerpt) for pf in context["param_fields"]]
    return slots


@login_required
@require_POST
def submit_quote(request: HttpRequest) -> HttpResponse:
    context = _submit_context(request)
    if context["body"] is not None:
        try:
            _show_quote(context, services.job_quote(user=request.user, request=context["body"]))
        except (ContractError, ServiceError) as exc:
            _attach_error(context, exc)
    context["field_errors"] = _error_slots(context)
    return render(request, "jobs/submit.html#quote-response", context)


# --- jobs -----------------------------------------------------------------------------------------
def _jobs_table(request: HttpRequest, experiment: Any = None) -> dict[str, Any]:
    """Filters, search, sort and one page of jobs, from the query string (works without JS)."""
    q = request.GET
    jobs = jobs_for_user(
        request.user,
        status=q.get("status") or None,
        experiment=experiment,
        backend=q.get("backend") or None,
        family=q.get("family") or None,
        label=q.get("label") or None,
        q=q.get("q") or None,
    )
    sort = q.get("sort") if q.get("sort") in JOB_SORTS else "-created"
    page = Paginator(_scoped(request, jobs).order_by(*JOB_SORTS[sort]), PAGE_SIZE).get_page(q.get("page"))
    query = q.copy()
    query.pop("page", None)
    unsorted = query.copy()
    unsorted.pop("sort", None)
    return {
        "page": page,
        "sort": sort,
        "filters": q,
        "query": query.urlencode(),  # for the pager: keeps the sort
        "filter_query": unsorted.urlencode(),  # for the sort links
        "statuses": JobStatus.choices,
        "families": family_names(),
    }


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    context = _jobs_table(request)
    template = "jobs/_jobs_table.html#jobs-table" if request.htmx else "jobs/job_list.html"
    return render(request, template, {**context, "table_url": reverse("job_list")})


@login_required
@_not_found_as_404
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    context = {
        "job": job,
        "events": job_events(job),
        "actions": job_actions(job),
        "reruns": rerun.options(job),
        "hold": job_hold(job),
        "timeline": charts.timeline_figure(job),
        "histogram": charts.histogram(job),
        "estimate_check": estimate_vs_actual(job),
        "backends": [c for c in _capabilities_by_tier() if c.backend_id != job.backend],
    }
    return render(request, "jobs/job_detail.html", context)


@login_required
@_not_found_as_404
def job_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = job_get_for_user(request.user, job_id)
    response = render(request, "jobs/job_detail.html#status", {"job": job})
    if request.GET.get("seen") and request.GET["seen"] != job.status:
        response["HX-Refresh"] = "true"  # the rest of the page (actions, results) changed too
    return response


JOB_ACTIONS: dict[str, Callable[..., Any]] = {
    "pause": lambda user, job_id, post: services.job_pause(user=user, job_id=job_id, reason=post.get("reason", "")),
    "resume": lambda user, job_id, post: services.job_resume(user=user, job_id=job_id, reason=post.get("reason", "")),
    "cancel": lambda user, job_id, post: services.job_cancel(user=user, job_id=job_id, reason=post.get("reason", "")),
    "reroute": lambda user, job_id, post: services.job_reroute(
        user=user, job_id=job_id, backend=post.get("backend", ""), reason=post.get("reason", "")
    ),
    "rerun": lambda user, job_id, post: services.job_rerun(
        user=user, job_id=job_id, on=post.get("on", rerun.AS_SUBMITTED)
    ),
}


DONE = {
    "pause": "paused",
    "resume": "resumed",
    "cancel": "cancelled",
    "reroute": "rerouted",
    "rerun": "re-run",
}


@login_required
@require_POST
@_not_found_as_404
def job_action(request: HttpRequest, job_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in JOB_ACTIONS:
        raise Http404("no such action")
    try:
        result = JOB_ACTIONS[action](request.user, job_id, request.POST)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, exc.message)
        return redirect("job_detail", job_id=job_id)
    new_job = getattr(result, "job", result)
    if action == "rerun" and isinstance(new_job, Job):
        messages.success(request, f"Re-run submitted as job {str(new_job.id)[:8]}.")
        return redirect("job_detail", job_id=new_job.id)
    messages.success(request, f"Job {str(job_id)[:8]} {DONE[action]}.")
    return redirect("job_detail", job_id=job_id)


# --- experiments ----------------------------------------------------------------------------------
@login_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    experiments = _scoped(request, experiments_for_user(request.user)).annotate(n_jobs=Count("jobs"))
    return render(request, "jobs/experiment_list.html", {"experiments": experiments})


@login_required
def experiment_new(request: HttpRequest) -> HttpResponse:
    form = ExperimentForm(request.POST or None, user=request.user, team=current_team(request))
    if request.method == "POST" and form.is_valid():
        try:
            experiment = services.experiment_create(user=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(error_target(exc.field, form) or None, exc.message)
        else:
            messages.success(request, f"Experiment “{experiment.name}” created.")
            return redirect("experiment_detail", experiment_id=experiment.pk)
    return render(request, "jobs/experiment_new.html", {"form": form})


@login_required
@_not_found_as_404
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = experiment_get_for_user(request.user, experiment_id)
    context = {**_jobs_table(request, experiment), "experiment": experiment}
    template = "jobs/_jobs_table.html#jobs-table" if request.htmx else "jobs/experiment_detail.html"
    return render(request, template, {**context, "table_url": request.path})


# --- approvals ------------------------------------------------------------------------------------
@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    pending, team = approvals_pending_for_user(request.user), current_team(request)
    rows = approval_rows(request.user, pending.filter(job__team=team) if team else pending)
    since = timezone.now() - timedelta(minutes=30)
    recent = recent_decisions_by_others(request.user, since)
    context = {"rows": rows, "recent": recent, "backends": _capabilities_by_tier(), **_badge(request)}
    template = "jobs/approvals.html#inbox" if request.htmx else "jobs/approvals.html"
    return render(request, template, context)


def _badge(request: HttpRequest) -> dict[str, Any]:
    """An htmx response's out-of-band update of the nav's approvals count (a page gets it from the layout)."""
    return {"badge_oob": True, "pending_approvals_count": approvals_waiting_count(request.user)} if request.htmx else {}


@login_required
@require_POST
@_not_found_as_404
def approval_decide(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    post, error, suggested = request.POST, "", None
    try:
        services.approval_decide(
            user=request.user,
            job_id=job_id,
            decision=post.get("decision", ""),
            comment=post.get("comment", ""),
            backend=post.get("backend") or None,
            shots=int(post["shots"]) if post.get("shots", "").isdigit() else None,
        )
    except ServiceError as exc:
        error = exc.message
        suggested = exc.detail.get("suggested_backend") if isinstance(exc.detail, dict) else None
    job = job_get_for_user(request.user, job_id)
    if not request.htmx:
        messages.add_message(request, messages.ERROR if error else messages.SUCCESS, error or "Decision recorded.")
        return redirect("approvals")
    # Refused but still waiting: the row again with the reason, so the approver can change it or reject.
    rows = approval_rows(request.user, approvals_pending_for_user(request.user).filter(job=job)) if error else []
    if rows:
        context = {"row": rows[0], "error": error, "suggested": suggested, "backends": _capabilities_by_tier()}
        return render(request, "jobs/approvals.html#pending-row", context)
    return render(request, "jobs/approvals.html#decided-row", {"job": job, "error": error, **_badge(request)})


# --- backends -------------------------------------------------------------------------------------
@login_required
def backends(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip().lower()
    rows = [row for row in backends_overview() if q in row["cap"].backend_id.lower()]
    return render(request, "jobs/backends.html", {"backends": rows, "q": q})
