"""Quota management through the Django admin: every change on the ledger, history never editable."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model

from budgets.models import (
    ApiToken,
    AuditEvent,
    Budget,
    BudgetAlert,
    LedgerEntry,
    LedgerKind,
    Membership,
    PriceModel,
    Team,
)
from budgets.money import to_micros
from budgets.services import hold_reserve, hold_settle, token_issue

MANAGEMENT = {"-TOTAL_FORMS": "1", "-INITIAL_FORMS": "0", "-MIN_NUM_FORMS": "0", "-MAX_NUM_FORMS": "1000"}


def formset(prefix: str, **rows: str) -> dict[str, str]:
    return {f"{prefix}{k}": v for k, v in MANAGEMENT.items()} | {f"{prefix}-0-{k}": v for k, v in rows.items()}


@pytest.fixture
def admin_client(client, cast):  # noqa: ANN001, ANN201
    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-1234")
    client.force_login(admin)
    client.admin = admin
    return client


def test_admin_creates_a_team_with_its_members(admin_client, cast):
    response = admin_client.post(
        "/admin/budgets/team/add/",
        {"slug": "photonics", "name": "Photonics"} | formset("memberships", user=str(cast.carol.pk), role="approver"),
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    team = Team.objects.get(slug="photonics")
    assert Membership.objects.get(team=team).user == cast.carol
    assert Membership.objects.get(team=team).role == "approver"


def test_admin_creates_a_budget_in_major_units_and_it_is_on_the_ledger(admin_client, cast):
    photonics = Team.objects.create(slug="photonics", name="Photonics")
    assert admin_client.get("/admin/budgets/budget/add/").status_code == 200
    response = admin_client.post(
        "/admin/budgets/budget/add/",
        {
            "team": photonics.pk,
            "experiment_class": cast.klass.pk,
            "period": "monthly",
            "limit": "250.50",
            "approval_threshold": "20",
            "max_tier": "2",
        },
    )
    assert response.status_code == 302
    budget = Budget.objects.get(team=photonics)
    assert (budget.limit_micros, budget.approval_threshold_micros, budget.max_tier) == (250_500_000, 20_000_000, 2)
    assert LedgerEntry.objects.filter(budget=budget, kind=LedgerKind.SET_LIMIT, actor=admin_client.admin).exists()
    assert AuditEvent.objects.filter(action="budget.set", actor=admin_client.admin, target=f"budget:{budget.pk}")


def test_a_second_budget_for_the_same_team_and_class_is_refused(admin_client, cast):
    response = admin_client.post(
        "/admin/budgets/budget/add/",
        {
            "team": cast.qlab.pk,
            "experiment_class": cast.klass.pk,
            "period": "monthly",
            "limit": "1",
            "approval_threshold": "0",
            "max_tier": "0",
        },
    )
    assert response.status_code == 200
    assert Budget.objects.filter(team=cast.qlab).count() == 1


def change_budget(client, budget: Budget, limit: str):  # noqa: ANN001, ANN201
    return client.post(
        f"/admin/budgets/budget/{budget.pk}/change/",
        {"period": "monthly", "limit": limit, "approval_threshold": "5.00", "max_tier": "1"},
    )


def test_a_budget_change_in_the_admin_goes_to_the_ledger_and_the_audit_trail(admin_client, cast):
    page = admin_client.get(f"/admin/budgets/budget/{cast.qlab_budget.pk}/change/").content.decode()
    assert 'name="limit" value="100.00"' in page and 'name="spent_micros"' not in page
    response = change_budget(admin_client, cast.qlab_budget, "150.00")
    assert response.status_code == 302
    budget = Budget.objects.get(pk=cast.qlab_budget.pk)
    assert (budget.limit_micros, budget.approval_threshold_micros, budget.max_tier) == (150_000_000, 5_000_000, 1)
    entry = LedgerEntry.objects.filter(budget=budget, kind=LedgerKind.SET_LIMIT).first()
    assert (entry.amount_micros, entry.actor) == (50_000_000, admin_client.admin)
    event = AuditEvent.objects.filter(action="budget.set", actor=admin_client.admin).get()
    assert (event.detail["limit"], event.detail["previous_limit"]) == ("USD 150.00", "USD 100.00")
    assert entry.memo == "limit USD 100.00 → USD 150.00"  # the budget page and the admin show it


def test_the_admin_refuses_a_limit_below_what_is_spent_and_reserved(admin_client, cast, make_job):
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("40.00"))
    response = change_budget(admin_client, cast.qlab_budget, "30.00")
    assert response.status_code == 200
    assert "below what is already spent and reserved (USD 40.00)" in response.content.decode()
    assert Budget.objects.get(pk=cast.qlab_budget.pk).limit_micros == 100_000_000


def test_the_budget_list_shows_usage(admin_client, cast, make_job):
    hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("25.00"))
    page = admin_client.get("/admin/budgets/budget/").content.decode()
    assert "USD 25.00" in page and "USD 75.00" in page and "25.0 %" in page
    filtered = admin_client.get(f"/admin/budgets/budget/?team__id__exact={cast.optics.pk}").content.decode()
    assert "25.0 %" not in filtered


def test_top_up_action_asks_the_amount_and_writes_the_ledger(admin_client, cast):
    selected = {"action": "top_up", ACTION_CHECKBOX_NAME: [cast.qlab_budget.pk, cast.optics_budget.pk]}
    form = admin_client.post("/admin/budgets/budget/", selected)
    assert form.status_code == 200 and b"Top up" in form.content
    done = admin_client.post("/admin/budgets/budget/", selected | {"apply": "1", "amount": "12.50", "memo": "Q4"})
    assert done.status_code == 302
    for budget in Budget.objects.all():
        assert budget.limit_micros == 112_500_000
    assert LedgerEntry.objects.filter(kind=LedgerKind.TOP_UP, memo="Q4", actor=admin_client.admin).count() == 2


def test_new_period_action_clears_spending_and_writes_the_ledger(admin_client, cast, make_job):
    job = make_job()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=to_micros("10.00"))
    hold_settle(job=job, actual_micros=to_micros("10.00"))
    response = admin_client.post(
        "/admin/budgets/budget/", {"action": "start_new_period", ACTION_CHECKBOX_NAME: [cast.qlab_budget.pk]}
    )
    assert response.status_code == 302
    assert Budget.objects.get(pk=cast.qlab_budget.pk).spent_micros == 0
    assert LedgerEntry.objects.get(kind=LedgerKind.NEW_PERIOD).amount_micros == -10_000_000


def test_admin_creates_a_price_model(admin_client):
    response = admin_client.post(
        "/admin/budgets/pricemodel/add/",
        {
            "backend_id": "braket:ionq_forte",
            "kind": "per_task_shot",
            "per_task_micros": "300000",
            "per_shot_micros": "80000",
            "per_second_micros": "0",
            "per_minute_micros": "0",
            "min_seconds": "0",
        },
    )
    assert response.status_code == 302
    assert PriceModel.objects.get(backend_id="braket:ionq_forte").per_shot_micros == 80_000


def test_a_price_changed_in_the_admin_is_the_price_of_the_next_quote(admin_client, cast, settings):
    from jobs.services import job_quote
    from tests.jobs.orch_support import ghz

    settings.SLOW_READS_SECONDS = 600  # as deployed: prices are kept per process between quotes
    request = ghz(cast.qlab_experiment, 4, backend="qsim")
    fields = {"backend_id": "qsim", "kind": "per_task_shot", "per_shot_micros": "0", "per_second_micros": "0"}
    fields |= {"per_minute_micros": "0", "min_seconds": "0"}
    assert (
        admin_client.post("/admin/budgets/pricemodel/add/", {**fields, "per_task_micros": "2000000"}).status_code == 302
    )
    assert job_quote(user=cast.alice, request=request).cost_micros == 2_000_000
    assert job_quote(user=cast.alice, request=request).cost_micros == 2_000_000  # kept, not changed

    override = PriceModel.objects.get(backend_id="qsim")
    changed = admin_client.post(
        f"/admin/budgets/pricemodel/{override.pk}/change/", {**fields, "per_task_micros": "3500000"}
    )

    assert changed.status_code == 302
    assert job_quote(user=cast.alice, request=request).cost_micros == 3_500_000
    admin_client.post(f"/admin/budgets/pricemodel/{override.pk}/delete/", {"post": "yes"})
    assert job_quote(user=cast.alice, request=request).cost_micros == 0  # back to the simulator's own price


@pytest.mark.parametrize("model", ["ledgerentry", "auditevent", "hold", "budgetalert"])
def test_the_money_trail_cannot_be_edited_or_deleted_in_the_admin(admin_client, cast, make_job, model):
    hold = hold_reserve(job=make_job(), budget=cast.qlab_budget, amount_micros=to_micros("60.00"))
    BudgetAlert.objects.create(
        budget=cast.qlab_budget, threshold_percent=50, period_start=cast.qlab_budget.period_start, used_micros=1
    )
    obj = {
        "ledgerentry": LedgerEntry.objects.filter(hold=hold).first(),
        "auditevent": AuditEvent.objects.first(),
        "hold": hold,
        "budgetalert": BudgetAlert.objects.first(),
    }[model]
    base = f"/admin/budgets/{model}/"
    assert admin_client.get(base).status_code == 200  # visible
    assert admin_client.get(f"{base}{obj.pk}/change/").status_code == 200  # read-only view
    assert admin_client.post(f"{base}{obj.pk}/change/", {}).status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"{base}add/").status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_ledger_and_audit_rows_refuse_to_be_changed_in_code(cast):
    entry = LedgerEntry.objects.first()
    entry.amount_micros = 1
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    event = AuditEvent.objects.first()
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_token_admin_revokes_and_never_shows_the_hash(admin_client, cast):
    token, secret = token_issue(user=cast.alice, scopes=["read"])
    page = admin_client.get(f"/admin/budgets/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page and token.token_hash not in page and secret not in page
    response = admin_client.post("/admin/budgets/apitoken/", {"action": "revoke", ACTION_CHECKBOX_NAME: [token.pk]})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert token.prefix in admin_client.get("/admin/budgets/apitoken/?state=revoked").content.decode()
    assert token.prefix not in admin_client.get("/admin/budgets/apitoken/?state=live").content.decode()
    assert AuditEvent.objects.filter(action="token.revoke", actor=admin_client.admin).exists()


def test_jobs_are_listed_searchable_and_read_only(admin_client, cast, make_job):
    job = make_job(fingerprint="f" * 64, backend="qsim")
    listing = admin_client.get("/admin/jobs/job/?status__exact=queued&backend=qsim")
    assert str(job.id)[:8] in listing.content.decode()
    assert str(job.id)[:8] in admin_client.get(f"/admin/jobs/job/?q={job.id}").content.decode()
    assert str(job.id)[:8] in admin_client.get("/admin/jobs/job/?q=ffffffff").content.decode()
    assert str(job.id)[:8] not in admin_client.get("/admin/jobs/job/?q=nothing-like-it").content.decode()
    hold_reserve(job=job, budget=cast.qlab_budget, amount_micros=1)
    assert f"{job.id}" in admin_client.get(f"/admin/budgets/hold/?q={str(job.id)[:8]}").content.decode()
    assert admin_client.get("/admin/budgets/hold/?q=not-a-uuid").status_code == 200
    assert admin_client.get(f"/admin/jobs/job/{job.id}/change/").status_code == 200
    assert admin_client.post(f"/admin/jobs/job/{job.id}/change/", {}).status_code == 403
    assert admin_client.post(f"/admin/jobs/job/{job.id}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/jobs/approval/").status_code == 200
    assert admin_client.get("/admin/jobs/experiment/add/").status_code == 200


def test_a_researcher_cannot_reach_the_admin(client, cast):
    client.force_login(cast.alice)
    assert client.get("/admin/budgets/budget/").status_code == 302  # to the admin login
