from django.urls import path

from portal.customers import views as customer_views
from portal.filespaces import connect_views, plan_views, views
from portal.filespaces.managed_urls import urlpatterns as managed_urlpatterns

app_name = "filespaces"

urlpatterns = [
    path("", customer_views.filespace_list, name="list"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/progress/", views.progress, name="progress"),
    path("<int:pk>/connect.sh", views.script, {"shell": "sh"}, name="script_sh"),
    path("<int:pk>/connect.ps1", views.script, {"shell": "ps1"}, name="script_ps1"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/plan/", plan_views.change_plan, name="change_plan"),
    # The connection guide (docs/managed-operations.md, "The connection guide").
    path("<int:pk>/my-user/", connect_views.own_user_create, name="own_user_create"),
    path("<int:pk>/initialize-myself/", connect_views.self_initialize, name="self_initialize"),
    path("<int:pk>/check/", connect_views.check_status, name="check_status"),
    path("<int:pk>/password/", connect_views.secret, name="secret"),
    path(
        "users/<int:pk>/reset-password/",
        connect_views.user_reset_password,
        name="user_reset_password",
    ),
]

# Users, snapshots, schedules and managed init-s3 (docs/managed-operations.md).
urlpatterns += managed_urlpatterns
