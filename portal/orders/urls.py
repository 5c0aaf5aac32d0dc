from django.urls import path

from portal.orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/<slug:plan>/", views.new, name="new"),
    path("check-name/", views.check_name, name="check_name"),
    path("regions/", views.regions, name="regions"),
    path("review/<str:key>/", views.review, name="review"),
    path("place/", views.place, name="place"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
]
