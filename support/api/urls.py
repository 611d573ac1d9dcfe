from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AttachmentDownloadView, TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")

urlpatterns = [
    *router.urls,
    path(
        "attachments/<str:attachment_id>/download/",
        AttachmentDownloadView.as_view(),
        name="api-attachment-download",
    ),
]
