from django.urls import path

from benchmarks import views

urlpatterns = [
    path("", views.run_list, name="benchmark_list"),
    path("<int:run_id>/", views.run_detail, name="benchmark_detail"),
    path("<int:run_id>/status/", views.run_status, name="benchmark_status"),
]
