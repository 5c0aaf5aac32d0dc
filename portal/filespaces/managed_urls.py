"""URLs of the managed operations pages, added to the `filespaces` namespace by urls.py."""

from django.urls import path

from portal.filespaces import managed_views as views

urlpatterns = [
    path("<int:pk>/manage/", views.manage, name="manage"),
    path("<int:pk>/initialize/", views.initialize, name="initialize"),
    path("<int:pk>/users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/delete/", views.user_delete, name="user_delete"),
    path("<int:pk>/snapshots/new/", views.snapshot_create, name="snapshot_create"),
    path("<int:pk>/snapshots/delete/", views.snapshot_delete, name="snapshot_delete"),
    path("<int:pk>/schedules/new/", views.schedule_create, name="schedule_create"),
    path("schedules/<int:pk>/delete/", views.schedule_delete, name="schedule_delete"),
]
