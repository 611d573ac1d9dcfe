from django.urls import path

from .views import receive_raw_mail

urlpatterns = [path("raw/", receive_raw_mail, name="mailgateway-raw")]
