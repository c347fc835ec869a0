from django.urls import path

from jobs import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/panels/<slug:panel>/", views.dashboard_panel, name="dashboard_panel"),
    path("submit/", views.submit, name="submit"),
    path("submit/params/", views.submit_params, name="submit_params"),
    path("submit/quote/", views.submit_quote, name="submit_quote"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/<slug:action>/", views.job_action, name="job_action"),
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/new/", views.experiment_new, name="experiment_new"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment_detail"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<uuid:job_id>/decide/", views.approval_decide, name="approval_decide"),
    path("backends/", views.backends, name="backends"),
]
