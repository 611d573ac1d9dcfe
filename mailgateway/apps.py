from django.apps import AppConfig


class MailgatewayConfig(AppConfig):
    name = "mailgateway"
    verbose_name = "Mail gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import notifications, outbound_admin, receivers  # noqa: F401  (receivers: Anymail's signals)

        notifications.connect()  # the domain events -> mail and in-app notifications
        outbound_admin.register()
