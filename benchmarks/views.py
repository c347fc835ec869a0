"""Benchmark pages: the runs list with the "Run a suite" form, and one run's comparison.

Views parse, call one service or selector, and render. Team scoping is in the selectors: another
team's run is a 404, like a missing one.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from benchmarks import charts, selectors, services
from benchmarks.forms import RunSuiteForm
from budgets.errors import NotFound, ServiceError
from budgets.selectors import current_team

NAV = {"nav_section": "benchmarks"}


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    form = RunSuiteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            run = services.benchmark_run_start(
                user=request.user,
                experiment_id=form.cleaned_data["experiment"],
                suite=form.cleaned_data["suite"],
                backends=form.cleaned_data["backends"] or None,
                trials=form.cleaned_data["trials"],
                shots=form.cleaned_data["shots"],
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Benchmark run {run.pk} started: {run.trials.count()} jobs.")
            return redirect("benchmark_detail", run_id=run.pk)
    mine = selectors.benchmark_runs_for_user(request.user, team=current_team(request))
    runs = [(run, selectors.run_progress(run)) for run in mine[:50]]
    context = {"runs": runs, "form": form, "suites": selectors.suite_choices(), **NAV}
    return render(request, "benchmarks/run_list.html", context, status=422 if form.errors else 200)


def _run_or_404(request: HttpRequest, run_id: int):  # noqa: ANN202
    try:
        return selectors.benchmark_run_get_for_user(request.user, run_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(request, run_id)
    data = selectors.comparison(run, reference=request.GET.get("reference"))
    context = {"run": run, "data": data, "progress": data["progress"], "chart": charts.fidelity_figure(data), **NAV}
    return render(request, "benchmarks/run_detail.html", context)


@login_required
def run_status(request: HttpRequest, run_id: int) -> HttpResponse:
    """The live status strip, polled every 2 s until every job is terminal."""
    run = _run_or_404(request, run_id)
    progress = selectors.run_progress(run)
    response = render(request, "benchmarks/run_detail.html#status", {"run": run, "progress": progress})
    if progress["done"] and request.GET.get("seen") == "running":
        response["HX-Refresh"] = "true"  # the last trial finished: redraw the table and the chart
    return response
