"""Django admin for experiments (editable) and jobs, their events and approvals (read-only).

Jobs change status only through `jobs.lifecycle.transition` and the services; the admin is for looking,
so nothing here can edit or delete a job, an event or an approval.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from budgets.admin import ReadOnlyAdmin
from budgets.money import format_money
from jobs.models import Approval, Experiment, Job, JobEvent


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "experiment_class", "data_classification", "retention_days", "created_at"]
    list_filter = ["team", "experiment_class", "data_classification"]
    list_select_related = ["team", "experiment_class"]
    search_fields = ["name", "team__slug"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Experiment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "stage", "from_status", "to_status", "actor_label", "actor", "reason", "duration_ms"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["short_id", "family", "status", "backend", "tier", "team", "submitted_by", "cost", "created_at"]
    list_filter = ["status", "backend", "team", "family", "experiment_class", "emulated"]
    list_select_related = ["team", "submitted_by"]
    search_fields = ["id", "fingerprint", "remote_id"]
    date_hierarchy = "created_at"
    inlines = [JobEventInline]

    @admin.display(description="id", ordering="id")
    def short_id(self, job: Job) -> str:
        return str(job.id)[:8]

    @admin.display(description="cost", ordering="cost_micros")
    def cost(self, job: Job) -> str:
        return format_money(job.cost_micros) if job.cost_micros is not None else "—"


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["job", "status", "requested_at", "expires_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["job", "decided_by"]
    search_fields = ["job__id", "decided_by__username"]
