from django.urls import path

from portal.filespaces import views
from portal.filespaces.managed_urls import urlpatterns as managed_urlpatterns

app_name = "filespaces"

urlpatterns = [
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/progress/", views.progress, name="progress"),
    path("<int:pk>/connect.sh", views.script, {"shell": "sh"}, name="script_sh"),
    path("<int:pk>/connect.ps1", views.script, {"shell": "ps1"}, name="script_ps1"),
    path("<int:pk>/delete/", views.delete, name="delete"),
]

# Users, snapshots, schedules and managed init-s3 (docs/managed-operations.md).
urlpatterns += managed_urlpatterns
