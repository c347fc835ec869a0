from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from hybridportal.api import api
from hybridportal.observability import metrics_view
from hybridportal.views import slo_panel

# The admin's change lists need the page's width (the budget list has ten columns); its home page and
# breadcrumbs lead to every model.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("benchmarks/", include("benchmarks.urls")),
    path("dashboard/slos/", slo_panel, name="slo_panel"),
    path("", include("budgets.urls")),
    path("", include("jobs.urls")),
]
