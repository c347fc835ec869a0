"""Every main page under the portal's Content-Security-Policy, at a desktop and a phone width: nothing
is blocked, nothing is logged as an error, the charts draw, tables fit and badges are readable."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from benchmarks.services import benchmark_run_start
from jobs.services import job_submit
from jobs.tasks import run_job
from tests.benchmarks.conftest import run_queued_inline
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Records what the page reports: CSP violations (with the directive and where) and htmx's aborts.
WATCH = """
window.__violations = [];
window.__aborts = 0;
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
  e.violatedDirective + ' ' + (e.blockedURI || '') + ' at ' + (e.sourceFile || '') + ':' + e.lineNumber));
document.addEventListener('htmx:sendAbort', () => { window.__aborts += 1; });
"""

# WCAG 2 contrast ratio of each visible badge's text against its background, from computed colours.
BADGE_CONTRAST = """() => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return [...document.querySelectorAll('.badge')].filter(b => b.offsetParent).map(b => {
    const s = getComputedStyle(b), fg = lum(s.color), bg = lum(s.backgroundColor);
    return [b.className + ' "' + b.textContent.trim() + '"', (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)];
  });
}"""

# Tables wider than the box they sit in (the reader has to scroll sideways to see every column).
CLIPPED_TABLES = """() => [...document.querySelectorAll('table')].filter(t => t.offsetParent)
  .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.closest('[id]') || t).id + ': ' + t.scrollWidth + ' > ' + t.parentElement.clientWidth)"""


class Watcher:
    """One browser page at one width, collecting what a user would see in the console."""

    def __init__(self, browser: Any, width: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.width = width
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def visit(self, url: str) -> None:
        self.errors.clear()
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")

    def problems(self, name: str) -> list[str]:
        found = [f"{name} at {self.width} px: blocked {v}" for v in self.page.evaluate("window.__violations")]
        return found + [f"{name} at {self.width} px: console error {e}" for e in self.errors]


@pytest.fixture
def portal(cast: Any) -> dict[str, str]:
    """Pages with content: a finished job with a histogram, an emulated hardware job waiting for bob,
    a benchmark comparison, a budget with a little money reserved, and an admin."""
    request = {"experiment": cast.qlab_experiment.pk, "family": "ghz", "params": {"n_qubits": 3}, "shots": 200}
    job = job_submit(user=cast.alice, request=request).job
    run_job(str(job.pk))
    hardware = {
        "experiment": cast.qlab_experiment.pk,
        "family": "bernstein_vazirani",
        "params": {"secret": "1011"},
        "shots": 100,
        "max_tier": 3,
        "backend": "ibm:fake_manila",
    }
    run = benchmark_run_start(
        user=cast.alice,
        suite="ghz-ladder",
        experiment_id=cast.qlab_experiment.pk,
        backends=["qsim", "cirq", "aer-noisy:fake_manila"],
        trials=1,
        shots=100,
        seed=3,
    )
    run_queued_inline(run)
    job_submit(user=cast.alice, request=hardware)  # the newest: first in the dashboard's recent jobs
    get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    return {
        "dashboard": "/",
        "submit": "/submit/",
        "job": f"/jobs/{job.pk}/",
        "jobs": "/jobs/",
        "approvals": "/approvals/",
        "experiments": "/experiments/",
        "experiment": f"/experiments/{cast.qlab_experiment.pk}/",
        "budgets": "/budgets/",
        "backends": "/backends/",
        "benchmarks": "/benchmarks/",
        "benchmark": f"/benchmarks/{run.pk}/",
        "tokens": "/tokens/",
        "api-docs": "/api/v1/docs",
    }


ADMIN_PAGES = {"admin": "/admin/", "admin-budgets": "/admin/budgets/budget/"}


def test_every_page_runs_under_the_content_security_policy_and_draws_its_charts(
    browser, live_server, cast, portal, shoot
):
    problems: list[str] = []
    for width in (1280, 390):
        for user, pages in (("bob", portal), ("root", ADMIN_PAGES)):
            watcher = Watcher(browser, width)
            if user == "root":
                watcher.visit(f"{live_server.url}/admin/login/")
                watcher.page.get_by_label("Username").fill("root")
                watcher.page.get_by_label("Password").fill(PASSWORD)
                watcher.page.get_by_role("button", name="Log in").click()
            else:
                sign_in(watcher.page, live_server, user)
            for name, path in pages.items():
                watcher.visit(live_server.url + path)
                for chart in watcher.page.locator("[data-figure]").all():
                    expect(chart.locator(".main-svg").first).to_be_visible()
                    chart.hover()  # hover labels are drawn under the policy too
                problems += watcher.problems(name)
                shoot(watcher.page, f"page-{name}-{width}")
            watcher.context.close()
    assert problems == [], "\n".join(problems)


def test_superseded_estimates_are_not_console_errors(browser, live_server, cast):
    watcher = Watcher(browser, 1280)
    sign_in(watcher.page, live_server, "alice")
    watcher.visit(f"{live_server.url}/submit/")
    # Two different edits in a row: the second estimate replaces (aborts) the first one in flight.
    watcher.page.evaluate(
        "() => { const f = document.querySelector('form[hx-post]'); const shots = f.elements['shots'];"
        " shots.value = '101'; htmx.trigger(f, 'change'); shots.value = '102'; htmx.trigger(f, 'change'); }"
    )
    watcher.page.wait_for_load_state("networkidle")
    assert watcher.page.evaluate("window.__aborts") >= 1
    expect(watcher.page.locator("#estimate")).to_contain_text("qsim")
    assert watcher.problems("submit") == []


def test_tables_fit_a_1280_px_window_and_pages_fit_a_phone(browser, live_server, cast, portal):
    clipped: list[str] = []
    for width in (1280, 390):
        watcher = Watcher(browser, width)
        sign_in(watcher.page, live_server, "bob")
        for name in ("dashboard", "benchmark", "budgets", "backends", "approvals", "job"):
            watcher.visit(live_server.url + portal[name])
            if width == 1280:
                clipped += [f"{name}: {t}" for t in watcher.page.evaluate(CLIPPED_TABLES)]
            overflow = watcher.page.evaluate("document.documentElement.scrollWidth")
            if overflow > width:
                clipped.append(f"{name} at {width} px: the page is {overflow} px wide")
        watcher.context.close()
    watcher = Watcher(browser, 1280)
    watcher.visit(f"{live_server.url}/admin/login/?next=/admin/budgets/budget/")
    watcher.page.get_by_label("Username").fill("root")
    watcher.page.get_by_label("Password").fill(PASSWORD)
    watcher.page.get_by_role("button", name="Log in").click()
    watcher.page.wait_for_load_state("networkidle")
    clipped += [f"admin budgets: {t}" for t in watcher.page.evaluate(CLIPPED_TABLES)]
    assert clipped == [], "\n".join(clipped)


def test_status_badges_have_readable_contrast(browser, live_server, cast, portal):
    watcher = Watcher(browser, 1280)
    sign_in(watcher.page, live_server, "bob")
    ratios: list[tuple[str, float]] = []
    for name in ("dashboard", "backends", "jobs", "approvals"):
        watcher.visit(live_server.url + portal[name])
        ratios += watcher.page.evaluate(BADGE_CONTRAST)
    kinds = " ".join(label for label, _ in ratios)
    assert "Succeeded" in kinds and "Awaiting approval" in kinds and "available" in kinds
    low = [f"{label}: {ratio:.2f}" for label, ratio in ratios if ratio < 4.5]
    assert low == [], low


def test_a_missing_page_is_the_portals_own_404_page(browser, live_server, cast, shoot):
    for width in (1280, 390):
        watcher = Watcher(browser, width)
        sign_in(watcher.page, live_server, "alice")
        watcher.visit(f"{live_server.url}/no-such-page/")
        expect(watcher.page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(watcher.page.get_by_role("navigation", name="Main")).to_be_visible()
        assert watcher.page.evaluate("window.__violations") == []
        shoot(watcher.page, f"page-not-found-{width}")
        watcher.context.close()
