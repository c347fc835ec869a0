"""Django admin for quota management: teams, budgets, classes, prices, tokens, and the money trail.

Budgets are never saved directly: every change goes through `budget_set`, `budget_top_up` or
`budget_new_period`, so each one lands in the ledger and the audit trail. The ledger, holds, alerts
and the audit trail are read-only here (history is not editable, not even by a superuser).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from budgets.errors import ServiceError
from budgets.models import (
    ApiToken,
    AuditEvent,
    Budget,
    BudgetAlert,
    ExperimentClass,
    Hold,
    LedgerEntry,
    Membership,
    PriceModel,
    Team,
)
from budgets.money import format_money, to_micros
from budgets.selectors import budget_usage
from budgets.services.budgets import budget_new_period, budget_set, budget_top_up
from budgets.services.tokens import token_revoke

MONEY_FIELD = {"max_digits": 14, "decimal_places": 6, "min_value": Decimal(0)}


def _major(micros: int) -> Decimal:
    """12_500_000 → Decimal('12.50') for a form field (cents unless that would hide the amount)."""
    return Decimal(format_money(micros).split(" ", 1)[1])


class ReadOnlyAdmin(admin.ModelAdmin):
    """History: viewable by staff with the view permission, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- teams ----------------------------------------------------------------------------------------
class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "member_count", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, team: Team) -> int:
        return team.memberships.count()


@admin.register(ExperimentClass)
class ExperimentClassAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "approval_tier", "park_over_budget"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}


# --- budgets --------------------------------------------------------------------------------------
class BudgetForm(forms.ModelForm):
    """Amounts in the currency's major unit (12.50), stored as micros by `budget_set`."""

    limit = forms.DecimalField(label="Limit per period", **MONEY_FIELD)
    approval_threshold = forms.DecimalField(
        label="Approval threshold", help_text="Jobs estimated above this need an approver's sign-off.", **MONEY_FIELD
    )

    class Meta:
        model = Budget
        fields = ["team", "experiment_class", "period", "max_tier"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["limit"].initial = _major(self.instance.limit_micros)
            self.fields["approval_threshold"].initial = _major(self.instance.approval_threshold_micros)
        else:
            self.fields["approval_threshold"].initial = Decimal(0)
        self.fields["max_tier"].help_text = "Highest backend tier: 0 local simulator … 3 hardware."

    def clean_max_tier(self) -> int:
        tier = self.cleaned_data["max_tier"]
        if not 0 <= tier <= 3:
            raise forms.ValidationError("The tier must be between 0 and 3.")
        return tier

    def clean_limit(self) -> int:
        limit = to_micros(self.cleaned_data["limit"])
        if self.instance.pk:
            # Checked again under the row lock in budget_set; this is for a friendly form error.
            current = Budget.objects.get(pk=self.instance.pk)
            used = current.spent_micros + current.reserved_micros
            if limit < used:
                raise forms.ValidationError(
                    f"The limit cannot be below what is already spent and reserved ({format_money(used)})."
                )
        return limit

    def clean_approval_threshold(self) -> int:
        return to_micros(self.cleaned_data["approval_threshold"])


class PeriodFilter(admin.SimpleListFilter):
    title = "period start"
    parameter_name = "period_start"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        starts = Budget.objects.dates("period_start", "month", order="DESC")
        return [(d.strftime("%Y-%m"), d.strftime("%B %Y")) for d in starts]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Budget]) -> QuerySet[Budget]:
        if not self.value():
            return queryset
        year, month = (int(x) for x in self.value().split("-"))
        return queryset.filter(period_start__year=year, period_start__month=month)


class TopUpForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14, decimal_places=6, min_value=Decimal("0.000001"), help_text="Added to each selected limit."
    )
    memo = forms.CharField(max_length=200, required=False)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    form = BudgetForm
    list_display = [
        "__str__",
        "current_period",
        "limit",
        "spent",
        "reserved",
        "remaining",
        "percent_used",
        "approval_threshold",
        "max_tier",
    ]
    list_filter = ["team", "experiment_class", "period", PeriodFilter]
    list_select_related = ["team", "experiment_class"]
    search_fields = ["team__slug", "experiment_class__slug"]
    readonly_fields = ["spent", "reserved", "remaining", "period_start", "updated_at"]
    actions = ["top_up", "start_new_period"]

    def get_readonly_fields(self, request: HttpRequest, obj: Budget | None = None) -> list[str]:
        if obj is None:
            return []
        return ["team", "experiment_class", *self.readonly_fields]

    def get_fields(self, request: HttpRequest, obj: Budget | None = None) -> list[str]:
        editable = ["period", "limit", "approval_threshold", "max_tier"]
        if obj is None:
            return ["team", "experiment_class", *editable]
        return ["team", "experiment_class", *editable, *self.readonly_fields]

    @admin.display(description="period", ordering="period_start")
    def current_period(self, budget: Budget) -> str:
        return f"{budget.get_period_display()} from {budget.period_start.date().isoformat()}"

    @admin.display(description="limit", ordering="limit_micros")
    def limit(self, budget: Budget) -> str:
        return format_money(budget.limit_micros)

    @admin.display(description="spent", ordering="spent_micros")
    def spent(self, budget: Budget) -> str:
        return format_money(budget.spent_micros)

    @admin.display(description="reserved", ordering="reserved_micros")
    def reserved(self, budget: Budget) -> str:
        return format_money(budget.reserved_micros)

    @admin.display(description="remaining")
    def remaining(self, budget: Budget) -> str:
        return format_money(budget_usage(budget)["remaining_micros"])

    @admin.display(description="% used")
    def percent_used(self, budget: Budget) -> str:
        return f"{budget_usage(budget)['percent_used']:.1f} %"

    @admin.display(description="approval threshold", ordering="approval_threshold_micros")
    def approval_threshold(self, budget: Budget) -> str:
        return format_money(budget.approval_threshold_micros)

    def save_model(self, request: HttpRequest, obj: Budget, form: BudgetForm, change: bool) -> None:
        """Through `budget_set`, never `obj.save()`: the change is row-locked, re-checked against what is
        spent and reserved, and written to the ledger and the audit trail."""
        data = form.cleaned_data
        try:
            budget = budget_set(
                team=obj.team,
                experiment_class=obj.experiment_class,
                limit_micros=data["limit"],
                period=data["period"],
                approval_threshold_micros=data["approval_threshold"],
                max_tier=data["max_tier"],
                actor=request.user,
            )
        except ValueError as exc:  # lost a race with a reservation after the form was validated
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)
            return
        obj.pk = budget.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request: HttpRequest, obj: Budget | None = None) -> bool:
        # A budget with history is protected by its ledger (PROTECT); set its limit to 0 instead.
        return False

    @admin.action(description="Top up the selected budgets…")
    def top_up(self, request: HttpRequest, queryset: QuerySet[Budget]) -> HttpResponse | None:
        form = TopUpForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            amount = to_micros(form.cleaned_data["amount"])
            for budget in queryset:
                try:
                    budget_top_up(
                        budget=budget, amount_micros=amount, actor=request.user, memo=form.cleaned_data["memo"]
                    )
                except ServiceError as exc:
                    self.message_user(request, f"{budget}: {exc.message}", messages.ERROR)
            self.message_user(request, f"Topped up {queryset.count()} budget(s) by {format_money(amount)}.")
            return None
        return TemplateResponse(
            request,
            "admin/budgets/budget_top_up.html",
            {
                **self.admin_site.each_context(request),
                "title": "Top up budgets",
                "budgets": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Start a new period for the selected budgets (spent back to 0)")
    def start_new_period(self, request: HttpRequest, queryset: QuerySet[Budget]) -> None:
        for budget in queryset:
            budget_new_period(budget=budget, actor=request.user)
        self.message_user(request, f"Started a new period for {queryset.count()} budget(s).")


@admin.register(PriceModel)
class PriceModelAdmin(admin.ModelAdmin):
    """Prices are stored in micro-units, like every amount; the list shows them in the currency."""

    list_display = ["backend_id", "kind", "per_task", "per_shot", "per_second", "per_minute", "min_seconds"]
    list_filter = ["kind"]
    search_fields = ["backend_id"]

    def get_form(self, request: HttpRequest, obj: PriceModel | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        unit = f"micro-units of {settings.CURRENCY} (1 {settings.CURRENCY} = 1000000)"
        kwargs["help_texts"] = {f: unit for f in ("per_task_micros", "per_shot_micros", "per_second_micros")} | {
            "per_minute_micros": unit,
            "min_seconds": "billed minimum per task (SV1: 3 seconds)",
        }
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="per task")
    def per_task(self, price: PriceModel) -> str:
        return format_money(price.per_task_micros)

    @admin.display(description="per shot")
    def per_shot(self, price: PriceModel) -> str:
        return format_money(price.per_shot_micros)

    @admin.display(description="per QPU-second")
    def per_second(self, price: PriceModel) -> str:
        return format_money(price.per_second_micros)

    @admin.display(description="per simulated minute")
    def per_minute(self, price: PriceModel) -> str:
        return format_money(price.per_minute_micros)


# --- the money trail (read-only) ------------------------------------------------------------------
@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "budget", "kind", "amount", "hold", "actor", "memo"]
    list_filter = ["kind", "budget__team", "budget__experiment_class"]
    list_select_related = ["budget__team", "budget__experiment_class", "hold", "actor"]
    search_fields = ["memo"]
    date_hierarchy = "created_at"

    @admin.display(description="amount", ordering="amount_micros")
    def amount(self, entry: LedgerEntry) -> str:
        return format_money(entry.amount_micros)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["pk", "job_id", "budget", "status", "amount", "settled", "created_at", "expires_at", "closed_at"]
    list_filter = ["status", "budget__team"]
    list_select_related = ["budget__team", "budget__experiment_class"]
    search_fields = ["job__id"]

    @admin.display(description="amount", ordering="amount_micros")
    def amount(self, hold: Hold) -> str:
        return format_money(hold.amount_micros)

    @admin.display(description="settled", ordering="settled_micros")
    def settled(self, hold: Hold) -> str:
        return format_money(hold.settled_micros)


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "budget", "threshold_percent", "period_start", "used"]
    list_filter = ["threshold_percent", "budget__team"]
    list_select_related = ["budget__team", "budget__experiment_class"]

    @admin.display(description="used", ordering="used_micros")
    def used(self, alert: BudgetAlert) -> str:
        return format_money(alert.used_micros)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "team", "target"]
    list_filter = ["action", "team"]
    list_select_related = ["actor", "team"]
    search_fields = ["action", "target", "actor__username"]
    date_hierarchy = "created_at"


# --- API tokens -----------------------------------------------------------------------------------
class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by `issue_token` or the Tokens page (the secret is shown once, there). Here an
    admin sees them and revokes them; the hash is never shown or editable."""

    list_display = ["prefix", "user", "name", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = [TokenStateFilter]
    list_select_related = ["user"]
    search_fields = ["prefix", "user__username", "name"]
    fields = ["prefix", "user", "name", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False  # revoke instead: the row stays for the audit trail

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(token_revoke(token=token, actor=request.user) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).")
