"""Benchmark runs in the admin: read-only records (runs are started by `run_suite` or the page)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from benchmarks.models import BenchmarkRun, BenchmarkTrial


class TrialInline(admin.TabularInline):
    model = BenchmarkTrial
    fields = ("problem", "backend", "trial", "job")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(BenchmarkRun)
class BenchmarkRunAdmin(admin.ModelAdmin):
    list_display = ("id", "suite", "team", "experiment", "created_by", "created_at")
    list_filter = ("suite", "team")
    search_fields = ("suite", "team__slug", "experiment__name")
    readonly_fields = ("team", "experiment", "suite", "config", "created_by", "created_at")
    inlines = [TrialInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
