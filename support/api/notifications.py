"""In-app notifications of the signed-in person, and their mail preferences.

`GET notifications/` (paginated, `?unread=true|false`), `POST notifications/mark-read/`
(`{"ids": [...]}` or `{"all": true}`), `GET`/`PATCH notifications/preferences/` (`{event: bool}`:
whether that event also comes by mail; in-app notifications are always on). Everyone sees only
their own notifications; the rows are written by the domain events (`mailgateway.notifications`),
so a customer never has one about an internal note. Errors, rate limits and authentication are
the API's own (`errors.py`, `ratelimit.py`).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, parsers, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support.models import Notification, NotificationEvent, NotificationPreference
from support.signed_in import signed_in_user

from .pagination import TicketPagination
from .serializers import StrictSerializer, _iso
from .views import errors


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.ChoiceField(choices=NotificationEvent.choices)
    summary = serializers.CharField()
    ticket = serializers.DictField(help_text="`id`, `reference` and `title` of the ticket.")
    message_id = serializers.UUIDField(allow_null=True)
    read = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "event": row["event"],
            "summary": row["summary"],
            "ticket": {
                "id": str(row["ticket_id"]),
                "reference": row["ticket__reference"],
                "title": row["ticket__title"],
            },
            "message_id": str(row["message_id"]) if row["message_id"] else None,
            "read": row["read_at"] is not None,
            "created_at": _iso(row["created_at"]),
        }


class MarkReadSerializer(StrictSerializer):
    # A notification's id is a 64-bit integer: a larger number is refused here, not by the database.
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=500
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and not attrs.get("ids"):
            raise ValidationError({"ids": ["Give the ids to mark read, or all: true."]})
        return attrs


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


_PREFERENCES = {event: serializers.BooleanField(required=False) for event in NotificationEvent.values}
PreferencesSerializer = type("PreferencesSerializer", (serializers.Serializer,), dict(_PREFERENCES))


def _unread_filter(raw: str | None) -> bool | None:
    if raw in (None, ""):
        return None
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValidationError({"unread": ["Use true or false."]})


class NotificationListView(generics.ListAPIView):
    pagination_class = TicketPagination
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema generator; requests use list()

    @extend_schema(
        summary="My notifications",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="only unread (true) or read (false)")],
        responses={200: NotificationSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = Notification.objects.filter(recipient=signed_in_user(request))
        unread = _unread_filter(request.query_params.get("unread"))
        if unread is not None:
            rows = rows.filter(read_at__isnull=unread)
        shown = rows.order_by("-created_at", "-id").values(
            "id", "event", "summary", "ticket_id", "ticket__reference", "ticket__title", "message_id", "read_at",
            "created_at",
        )  # fmt: skip
        page = self.paginate_queryset(shown)
        one = NotificationSerializer()
        return self.get_paginated_response([one.to_representation(row) for row in page or []])


class NotificationMarkReadView(APIView):
    parser_classes = [parsers.JSONParser]

    @extend_schema(
        summary="Mark notifications read",
        request=MarkReadSerializer,
        responses={200: MarkedSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rows = Notification.objects.filter(recipient=signed_in_user(request), read_at__isnull=True)
        if not data.validated_data.get("all"):
            rows = rows.filter(pk__in=data.validated_data["ids"])
        return Response({"marked": rows.update(read_at=timezone.now())})


class NotificationPreferencesView(APIView):
    parser_classes = [parsers.JSONParser]

    @extend_schema(summary="My mail preferences", responses={200: PreferencesSerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(_preferences(request.user))

    @extend_schema(
        summary="Switch mail events on or off",
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, **errors(400)},
    )
    def patch(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send an object of event names to true or false."]})
        unknown = sorted(set(request.data) - set(NotificationEvent.values))
        if unknown:
            raise ValidationError({name: ["Not a notification event."] for name in unknown})
        data = PreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = signed_in_user(request)
        with transaction.atomic():
            for event, wanted in data.validated_data.items():
                NotificationPreference.objects.update_or_create(person=person, event=event, defaults={"email": wanted})
        return Response(_preferences(request.user))


def _preferences(user: Any) -> dict[str, bool]:
    chosen = dict(NotificationPreference.objects.filter(person=user).values_list("event", "email"))
    return {event: chosen.get(event, True) for event in NotificationEvent.values}
