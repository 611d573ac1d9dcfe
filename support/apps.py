from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import conversation_cache, ticket_counts
        from .api import schema  # noqa: F401  (registers its OpenAPI extension before a schema is built)

        ticket_counts.connect()
        conversation_cache.connect()
