"""Staff's view of outbound mail (every mail sent, with its status and the provider's error) and
of held replies (send anyway or drop). Registered from `MailgatewayConfig.ready()`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from support.errors import DomainError

from .models import HeldReply, HeldStatus, OutboundEmail


class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "template", "to_address", "status", "ticket", "attempts", "sent_at"]
    list_filter = ["status", "template", "provider"]
    search_fields = ["to_address", "message_id_header", "provider_message_id", "ticket__reference"]
    list_select_related = ["ticket"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class HeldReplyAdmin(admin.ModelAdmin):
    list_display = ["created_at", "ticket", "agent", "status", "decided_at"]
    list_filter = ["status"]
    search_fields = ["ticket__reference", "agent__email", "text"]
    list_select_related = ["ticket", "agent"]
    readonly_fields = [f.name for f in HeldReply._meta.fields]
    actions = ["send_anyway", "drop"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send the held reply anyway (posts it to the customer)")
    def send_anyway(self, request: HttpRequest, queryset: QuerySet[HeldReply]) -> None:
        from .held import send_held_reply

        for held in queryset.filter(status=HeldStatus.HELD):
            try:
                send_held_reply(held, actor=request.user)  # type: ignore[arg-type]
            except DomainError as exc:
                self.message_user(request, f"{held.ticket}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{held.ticket}: the held reply was sent.")

    @admin.action(description="Drop the held reply")
    def drop(self, request: HttpRequest, queryset: QuerySet[HeldReply]) -> None:
        from .held import drop_held_reply

        for held in queryset.filter(status=HeldStatus.HELD):
            try:
                drop_held_reply(held, actor=request.user)  # type: ignore[arg-type]
            except DomainError as exc:
                self.message_user(request, f"{held.ticket}: {exc}", messages.ERROR)


def register() -> None:
    for model, model_admin in ((OutboundEmail, OutboundEmailAdmin), (HeldReply, HeldReplyAdmin)):
        if not admin.site.is_registered(model):
            admin.site.register(model, model_admin)
