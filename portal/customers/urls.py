from django.urls import path

from portal.customers import views

app_name = "customers"

urlpatterns = [
    path("welcome/", views.onboarding, name="onboarding"),
    path("switch/", views.switch_customer, name="switch"),
    path("team/", views.team, name="team"),
    path("team/invite/", views.invite, name="invite"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("team/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("team/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
