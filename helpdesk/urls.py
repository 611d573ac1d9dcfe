from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenRefreshView

from helpdesk import health, metrics
from mailgateway.provider_doors import provider_webhook_urls
from support.api import errors as api_errors
from support.api.auth import TokenView
from support.web.auth import admin_sign_in

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # The admin signs in through the site's own sign-in (limits on failed passwords); a POST of
    # a password here is sent there, unread.
    re_path(r"^admin/login/$", admin_sign_in, name="admin-sign-in"),
    path("admin/", admin.site.urls),
    # Every inbound (and tracking) webhook of every provider Anymail knows: /anymail/<esp>/inbound/.
    # (closed in production until ANYMAIL_WEBHOOK_SECRET is set: mailgateway/provider_doors.py).
    path("anymail/", include((provider_webhook_urls(), "anymail"))),
    path("mailgateway/", include("mailgateway.urls")),
    path("api/support/", include("support.api.urls")),
    path("api/auth/token/", TokenView.as_view(), name="token_obtain_pair"),
    path("api/auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Anything else under /api/ is a JSON 404, also with DEBUG on (Django's debug page is HTML).
    re_path(r"^api/", api_errors.api_not_found),
    # The customer web pages and the staff console (support/web/).
    path("", include("support.web.urls")),
]

handler400 = "support.api.errors.handler400"
handler403 = "support.api.errors.handler403"
handler404 = "support.api.errors.handler404"
handler500 = "support.api.errors.handler500"
