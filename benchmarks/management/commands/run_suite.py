"""`python manage.py run_suite SUITE …`: start a benchmark run, follow it with a progress bar, print
the comparison.

    run_suite ghz-ladder --team qlab --user alice --backends qsim,qsim-noisy --trials 3 --shots 500 --inline

Without `--inline` the run's jobs are executed by the workers (`serve`, or `qcluster` with
Q_CLUSTER_NAME=batch for simulators and =hardware for tier-3 devices). `--inline` runs the queued
simulator jobs in this process through `jobs.tasks.run_job` — for a machine without workers, and for
tests. Hardware trials (ibm:*) wait for an approver's sign-off and then for the hardware worker; the
command never hangs on them: it says what is waiting and stops after `--timeout` seconds.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from benchmarks import selectors, services, suites
from benchmarks.models import BenchmarkRun
from budgets.errors import ServiceError
from budgets.models import Membership, Role
from jobs.models import Experiment, JobStatus

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Run a benchmark suite across backends with repeated trials and print the comparison."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("suite", choices=sorted(suites.SUITES), help="suite name")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--experiment", type=int, help="experiment id (the run's team is its team)")
        where.add_argument("--team", help="team slug: uses the team's vendor_comparison experiment, else its newest")
        parser.add_argument("--user", help="who starts the run (default: the team's only researcher/admin)")
        parser.add_argument("--backends", help="comma-separated backend ids (default: the suite's)")
        parser.add_argument("--trials", type=int, help="trials per problem and backend")
        parser.add_argument("--shots", type=int, help="shots per trial")
        parser.add_argument("--seed", type=int, help="run seed (the same seed replays the same circuits and seeds)")
        parser.add_argument("--reference", help="backend the others are compared with (default: first noiseless)")
        parser.add_argument("--wait", action="store_true", default=True, help="follow the run until done (default)")
        parser.add_argument("--no-wait", dest="wait", action="store_false", help="start the run and exit")
        parser.add_argument("--inline", action="store_true", help="execute queued simulator jobs in this process")
        parser.add_argument(
            "--timeout", type=float, default=600.0, help="stop waiting after this many seconds (default 600)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, experiment = self._who_and_where(options)
        backends = [b for b in (options["backends"] or "").split(",") if b.strip()] or None
        try:
            run = services.benchmark_run_start(
                user=user,
                suite=options["suite"],
                experiment_id=experiment.pk,
                backends=backends,
                trials=options["trials"],
                shots=options["shots"],
                seed=options["seed"],
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        progress = selectors.run_progress(run)
        self.stdout.write(
            f"benchmark run {run.pk}: suite {run.suite}, {progress['total']} jobs on "
            f"{', '.join(run.config['backends'])} (team {run.team.slug}, experiment {experiment.pk}, "
            f"seed {run.config['seed']})"
        )
        for skip in run.config.get("skipped", []):
            self.stdout.write(f"  skipped {skip['problem']} on {skip['backend']}: {skip['reason']}")
        if not options["wait"]:
            self.stdout.write(f"not waiting; follow it at /benchmarks/{run.pk}/")
            return
        self._follow(run, inline=options["inline"], timeout=options["timeout"])
        self.stdout.write(format_comparison(selectors.comparison(run, reference=options["reference"])))

    # --- resolving who runs it and where --------------------------------------------------------
    def _who_and_where(self, options: dict[str, Any]) -> tuple[Any, Experiment]:
        experiment = None
        if options["experiment"] is not None:
            experiment = Experiment.objects.select_related("team").filter(pk=options["experiment"]).first()
            if experiment is None:
                raise CommandError(f"no experiment {options['experiment']}")
            team = experiment.team
        elif options["team"]:
            from budgets.models import Team

            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                raise CommandError(f"no team {options['team']!r}")
        else:
            raise CommandError("name --experiment ID or --team SLUG")
        user = self._user(options["user"], team)
        if experiment is None:
            experiments = Experiment.objects.filter(team=team).order_by("-created_at")
            experiment = experiments.filter(experiment_class__slug="vendor_comparison").first() or experiments.first()
            if experiment is None:
                raise CommandError(f"team {team.slug} has no experiment; create one first")
        return user, experiment

    def _user(self, username: str | None, team: Any) -> Any:
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}")
            return user
        members = Membership.objects.filter(team=team, role__in=[Role.RESEARCHER, Role.ADMIN]).select_related("user")
        if members.count() != 1:
            raise CommandError(f"name --user: team {team.slug} has {members.count()} researchers/admins")
        return members.get().user

    # --- following the run ------------------------------------------------------------------------
    def _follow(self, run: BenchmarkRun, *, inline: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        progress = selectors.run_progress(run)
        noted = False
        bar = tqdm(total=progress["total"], desc=f"run {run.pk}", unit="job", file=self.stderr, dynamic_ncols=True)
        try:
            while True:
                if inline:
                    self._run_inline(run, bar)
                progress = selectors.run_progress(run)
                bar.n = progress["terminal"]
                bar.set_postfix_str(_status_text(progress["by_status"]), refresh=False)
                bar.refresh()
                if progress["done"] or time.monotonic() >= deadline:
                    break
                # Only sign-offs or the hardware worker can move what is left: say so, do not hang.
                if self._only_waiting_on_others(run) and not _has_local_work(run):
                    if inline:
                        break
                    if not noted:
                        bar.write(
                            f"waiting on approvals ({progress['awaiting_approval']}) and the hardware worker "
                            f"({progress['hardware_waiting']}) only; giving up after --timeout {timeout:g} s"
                        )
                        noted = True
                time.sleep(POLL_SECONDS)
        finally:
            bar.close()
        self._explain_waiting(run, progress, timed_out=not progress["done"] and time.monotonic() >= deadline)

    def _run_inline(self, run: BenchmarkRun, bar: tqdm) -> None:
        from jobs.tasks import run_job

        for job_id in _local_queued(run):
            run_job(str(job_id))
            bar.n = selectors.run_progress(run)["terminal"]
            bar.refresh()

    def _only_waiting_on_others(self, run: BenchmarkRun) -> bool:
        progress = selectors.run_progress(run)
        left = progress["total"] - progress["terminal"]
        return left > 0 and left == progress["awaiting_approval"] + progress["hardware_waiting"]

    def _explain_waiting(self, run: BenchmarkRun, progress: dict[str, Any], *, timed_out: bool) -> None:
        if progress["done"]:
            return
        if progress["awaiting_approval"]:
            self.stdout.write(
                f"{progress['awaiting_approval']} job(s) await an approver's sign-off (hardware or over the "
                "threshold): an approver other than the starter decides them at /approvals/"
            )
        if progress["hardware_waiting"]:
            self.stdout.write(
                f"{progress['hardware_waiting']} hardware job(s) wait for the hardware worker "
                "(`manage.py serve`, or Q_CLUSTER_NAME=hardware manage.py qcluster)"
            )
        local = len(_local_queued(run))
        if local:
            self.stdout.write(
                f"{local} simulator job(s) are queued for the batch workers: start them (`manage.py serve`, or "
                "Q_CLUSTER_NAME=batch manage.py qcluster), or run them here with --inline"
            )
        if timed_out:
            self.stdout.write(f"stopped waiting after the timeout; the run goes on — see /benchmarks/{run.pk}/")
        else:
            self.stdout.write(f"partial results below; the rest appear at /benchmarks/{run.pk}/ as jobs finish")


def _local_queued(run: BenchmarkRun) -> list[Any]:
    return list(
        run.trials.filter(job__status=JobStatus.QUEUED, job__tier__lt=selectors.HARDWARE_TIER)
        .order_by("problem", "backend", "trial")
        .values_list("job_id", flat=True)
    )


def _has_local_work(run: BenchmarkRun) -> bool:
    return run.trials.filter(
        job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING], job__tier__lt=selectors.HARDWARE_TIER
    ).exists()


def _status_text(by_status: dict[str, int]) -> str:
    return " ".join(f"{status}={n}" for status, n in by_status.items())


# --- the table ------------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(interval: dict[str, Any], digits: int = 3) -> str:
    if interval.get("estimate") is None:
        return "—"
    return f"{interval['estimate']:.{digits}f} [{_num(interval['low'], digits)}, {_num(interval['high'], digits)}]"


def format_comparison(data: dict[str, Any]) -> str:
    """The comparison as a plain-text table (what `run_suite` prints)."""
    run = data["run"]
    lines = [
        "",
        f"Comparison — run {run['id']} ({run['suite']}), {run['trials']} trials × {run['shots']} shots, "
        f"reference {data['reference']}; 95% CIs in brackets; n.s. = CI of the difference spans 0; "
        "floor = a perfect sampler's expected fidelity at these shots; score +/- = pass/fail",
    ]
    header = (
        f"{'problem':<12} {'backend':<34} {'n':>3}  {'fidelity [95% CI]':<24} {'floor':>6} {'F~':>6} "
        f"{'TVD':>6} {'score':>6} {'success [Wilson]':<22} {'exec med':>9}  {'Δ vs ref [95% CI]':<28}"
    )
    lines += [header, "-" * len(header)]
    for problem in data["problems"]:
        diffs = {d["backend"]: d for d in problem["differences"]}
        for row in problem["rows"]:
            label = row["backend"] + (" (emulated)" if row["emulated"] else "")
            diff = diffs.get(row["backend"])
            if row["backend"] == data["reference"]:
                diff_text = "reference"
            elif not diff or diff.get("estimate") is None:
                diff_text = "—"
            else:
                diff_text = _ci(diff, 4) + ("" if diff["significant"] else " n.s.")
            execute = row["execute_seconds"]["median"]
            lines.append(
                f"{problem['key']:<12} {label:<34} {row['n']:>3}  {_ci(row['fidelity']):<24} "
                f"{_num(row['floor']):>6} {_num(row['normalized_fidelity']['estimate']):>6} "
                f"{_num(row['tvd']['estimate']):>6} {_score_text(row['score']):>6} "
                f"{_ci(row['success_rate'], 2):<22} {_num(execute, 4) + ' s' if execute is not None else '—':>9}  "
                f"{diff_text:<28}"
            )
        for skip in problem["skipped"]:
            lines.append(f"{problem['key']:<12} {skip['backend']:<34} skipped: {skip['reason']}")
    lines += ["", "Pinned (from the jobs' records):"]
    seen: set[str] = set()
    for problem in data["problems"]:
        for row in problem["rows"]:
            text = _pinned_text(row)
            if row["pinned"]["sdk_versions"] and text not in seen:
                seen.add(text)
                lines.append(text)
    lines += [f"Note: {note}" for note in data["notes"]]
    return "\n".join(lines)


def _score_text(score: dict[str, Any]) -> str:
    mark = {True: "+", False: "-"}.get(score.get("passes"), "")  # + pass, - fail (mirror ≥ 1/e, QV 2/3 + 2σ)
    return _num(score.get("estimate")) + mark


def _pinned_text(row: dict[str, Any]) -> str:
    pinned = row["pinned"]
    versions = ", ".join(f"{k} {v}" for k, v in pinned["sdk_versions"].items())
    parts = [f"  {row['backend']}{' (emulated)' if row['emulated'] else ''}: precision {pinned['precision']}"]
    if pinned.get("method"):
        parts.append(f"method {pinned['method']}" + (f", {pinned['threads']} threads" if pinned.get("threads") else ""))
    parts.append(f"noise {pinned['noise']}" if pinned["noise"] else "noiseless")
    if pinned["calibration_date"]:
        parts.append(f"device {pinned['device']} calibrated {pinned['calibration_date']}")
    return "; ".join(parts) + f"; {versions}"
