from django.urls import path
from rest_framework.routers import SimpleRouter

from .notifications import NotificationListView, NotificationMarkReadView, NotificationPreferencesView
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
    path("notifications/", NotificationListView.as_view(), name="api-notifications"),
    path("notifications/mark-read/", NotificationMarkReadView.as_view(), name="api-notifications-mark-read"),
    path("notifications/preferences/", NotificationPreferencesView.as_view(), name="api-notification-preferences"),
]
