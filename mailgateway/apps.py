from django.apps import AppConfig


class MailgatewayConfig(AppConfig):
    name = "mailgateway"
    verbose_name = "Mail gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects Anymail's inbound signal)
