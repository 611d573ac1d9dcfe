"""Staff's view of the gateway: every inbound mail with its status and reason, the raw mail,
and the decisions on quarantined mail (accept into its ticket, open as a new ticket, reprocess,
discard). The staff console (web) will offer the same decisions through the same functions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from support.errors import DomainError
from support.signed_in import signed_in_user

from . import quarantine
from .models import InboundEmail, InboundStatus, ReplyToken, UndeliverableAddress


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "status", "reason", "from_address", "subject", "door", "routed_by", "ticket"]
    list_filter = ["status", "reason", "door", "provider", "routed_by"]
    search_fields = ["from_address", "subject", "message_id_header", "ticket__reference", "envelope_recipient"]
    list_select_related = ["ticket"]
    date_hierarchy = "received_at"
    exclude = ["raw"]
    readonly_fields = [f.name for f in InboundEmail._meta.fields if f.name not in ("raw",)] + ["raw_mail_link"]
    actions = ["accept_into_ticket", "open_as_new_ticket", "reprocess", "discard"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundEmail]:
        return super().get_queryset(request).defer("raw")

    def get_urls(self) -> list[Any]:
        raw = path("<path:object_id>/raw/", self.admin_site.admin_view(self.raw_mail), name="mailgateway_raw_mail")
        return [raw, *super().get_urls()]

    @admin.display(description="raw mail")
    def raw_mail_link(self, obj: InboundEmail) -> str:
        return format_html('<a href="{}">view the mail as it arrived ({} bytes)</a>', self._raw_url(obj), obj.raw_size)

    def _raw_url(self, obj: InboundEmail) -> str:
        return reverse("admin:mailgateway_raw_mail", args=[obj.pk])

    def raw_mail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The mail as text, never rendered: a raw mail may hold anything."""
        inbound = InboundEmail.objects.filter(pk=object_id).only("raw").first()
        if inbound is None:
            return HttpResponse("No such mail.", status=404, content_type="text/plain; charset=utf-8")
        response = HttpResponse(bytes(inbound.raw), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = "inline"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.action(description="Accept into the ticket it names (adds the sender to the ticket)")
    def accept_into_ticket(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        actor = signed_in_user(request)
        for inbound in queryset.filter(status=InboundStatus.QUARANTINED).select_related("ticket"):
            if inbound.ticket is None:
                self.message_user(
                    request, f"{inbound.subject!r} names no ticket; open it as a new one.", messages.ERROR
                )
                continue
            self._decide(request, inbound, lambda i: quarantine.accept_into_ticket(i, ticket=i.ticket, actor=actor))

    @admin.action(description="Open as a new ticket of its sender")
    def open_as_new_ticket(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        actor = signed_in_user(request)
        for inbound in queryset.filter(status=InboundStatus.QUARANTINED):
            self._decide(request, inbound, lambda i: quarantine.open_as_new_ticket(i, actor=actor))

    @admin.action(description="Process again")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        for inbound in queryset:
            self._decide(request, inbound, quarantine.reprocess)

    @admin.action(description="Discard (keep it, marked ignored)")
    def discard(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        actor = signed_in_user(request)
        for inbound in queryset.filter(status=InboundStatus.QUARANTINED):
            self._decide(request, inbound, lambda i: quarantine.discard(i, actor=actor))

    def _decide(self, request: HttpRequest, inbound: InboundEmail, decision: Any) -> None:
        try:
            decision(inbound)
        except DomainError as exc:
            self.message_user(request, f"{inbound.subject!r}: {exc}", messages.ERROR)
        else:
            inbound.refresh_from_db()
            self.message_user(request, f"{inbound.subject!r}: {inbound.status} {inbound.reason}".strip())


@admin.register(ReplyToken)
class ReplyTokenAdmin(admin.ModelAdmin):
    """Which reply addresses exist; the token itself is never shown (it is a credential)."""

    list_display = ["ticket", "person", "created_at", "last_used_at", "use_count"]
    search_fields = ["ticket__reference", "person__email"]
    list_select_related = ["ticket", "person"]
    exclude = ["token_id"]
    readonly_fields = ["ticket", "person", "created_at", "last_used_at", "use_count"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(UndeliverableAddress)
class UndeliverableAddressAdmin(admin.ModelAdmin):
    """Addresses that bounced for good or complained; delete a row to send to it again."""

    list_display = ["address", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["address"]
    readonly_fields = ["inbound", "created_at"]
