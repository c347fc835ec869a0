from django.urls import path

from budgets import views

urlpatterns = [
    path("team/", views.team_switch, name="team_switch"),
    path("budgets/", views.budgets_page, name="budgets"),
    path("tokens/", views.tokens_page, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token_revoke"),
]
