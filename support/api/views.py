"""HTTP for tickets: parse, check who may see what, call the domain services, shape the answer.

A ticket that the caller may not see is answered 404 (`ticket_not_found`), exactly as one that
does not exist, so the API never reveals that someone else's ticket is there.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support import message_files, selectors, services
from support.errors import InvalidInput
from support.files import stored_filename
from support.models import Channel, Source, Ticket, User
from support.signed_in import signed_in_user

from . import serializers as s
from .errors import ApiNotFound, TicketNotFound
from .filters import TicketFilter

_ERR = OpenApiResponse(s.ErrorSerializer)
# The URL of what a 201 created: the ticket's detail, or the uploaded file's download.
_LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, location=OpenApiParameter.HEADER, response=[201], description="The new resource."
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation; 401 and 429 apply to all of them."""
    return {code: _ERR for code in sorted({401, 429, *codes})}


def _channel(request: Request) -> str:
    # The web pages use the session; everything else is an API client.
    return Channel.API if request.auth is not None else Channel.WEB


@extend_schema_view(
    list=extend_schema(summary="List tickets", responses={200: s.TicketListSerializer(many=True), **errors(400, 404)}),
    retrieve=extend_schema(
        summary="A ticket with its conversation",
        description="Marks the messages read for the caller's side. Internal notes are shown to staff only.",
        responses={200: s.TicketDetailSerializer, **errors(404)},
    ),
    create=extend_schema(
        summary="Open a ticket",
        request=s.TicketCreateSerializer,
        parameters=[_LOCATION],
        responses={201: s.TicketDetailSerializer, **errors(400)},
    ),
    update=extend_schema(
        summary="Change a ticket",
        description="Staff change any field; a customer may only set status to closed.",
        request=s.TicketUpdateSerializer,
        responses={200: s.TicketDetailSerializer, **errors(400, 403, 404)},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a ticket",
        request=s.TicketUpdateSerializer,
        responses={200: s.TicketDetailSerializer, **errors(400, 403, 404)},
    ),
)
class TicketViewSet(viewsets.GenericViewSet):
    lookup_value_regex = "[^/]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = TicketFilter
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    queryset = Ticket.objects.none()  # for the schema generator; requests use get_queryset()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Ticket.objects.none()
        user = signed_in_user(self.request)
        if self.action == "list":
            return selectors.ticket_list(user)
        return selectors.visible_tickets(user)

    def get_serializer_class(self) -> Any:
        if self.action == "list":
            return s.TicketListSerializer
        # OPTIONS (DRF's metadata) describes the body a POST or PUT takes with this serializer.
        method = self.request.method if self.action == "metadata" else None
        if self.action == "create" or method == "POST":
            return s.TicketCreateSerializer
        if self.action in {"update", "partial_update"} or method in {"PUT", "PATCH"}:
            return s.TicketUpdateSerializer
        return s.TicketDetailSerializer

    def get_object(self) -> Ticket:
        ticket = selectors.find_ticket(selectors.visible_tickets(signed_in_user(self.request)), self.kwargs["pk"])
        if ticket is None:
            raise TicketNotFound()
        return ticket

    def _detail(self, ticket_id: Any, *, http: int = status.HTTP_200_OK) -> Response:
        ticket = selectors.ticket_detail(signed_in_user(self.request)).get(pk=ticket_id)
        return Response(s.TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status=http)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = selectors.ticket_list_rows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(rows) or []
        one = s.TicketListSerializer(context=self.get_serializer_context())
        return self.get_paginated_response([one.to_representation(row) for row in page])  # type: ignore[arg-type]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = selectors.find_ticket(selectors.ticket_detail(signed_in_user(request)), self.kwargs["pk"])
        if ticket is None:
            raise TicketNotFound()
        services.mark_read(ticket=ticket, reader=signed_in_user(request))
        return Response(s.TicketDetailSerializer(ticket, context=self.get_serializer_context()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.TicketCreateSerializer, request.data)
        channel = _channel(request)
        ticket = services.open_ticket(
            customer=signed_in_user(request),
            title=data["title"],
            message_text=data["message_text"],
            category=data["category"],
            priority=data["priority"],
            source=data.get("source") or (Source.API if channel == Channel.API else Source.WEB),
            channel=channel,
        )
        response = self._detail(ticket.pk, http=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(reverse("ticket-detail", kwargs={"pk": ticket.pk}))
        return response

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ticket = self.get_object()
        data = _valid(s.TicketUpdateSerializer, request.data)
        if "assigned_agent" in data:
            _require_staff(request, "assign tickets")
            data["assigned_agent"] = _agent_or_none(data["assigned_agent"], field="assigned_agent")
        services.change_ticket(ticket=ticket, actor=signed_in_user(request), channel=_channel(request), **data)
        return self._detail(ticket.pk)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, **kwargs)

    @extend_schema(
        summary="Add a reply or an internal note",
        request=s.MessageCreateSerializer,
        responses={201: s.MessageSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        data = _valid(s.MessageCreateSerializer, request.data)
        message = services.add_message(
            ticket=ticket,
            author=signed_in_user(request),
            message_text=data["message_text"],
            is_internal=data["is_internal"],
            attachment_ids=data["attachment_ids"],
            channel=_channel(request),
        )
        (row,) = selectors.message_rows(selectors.visible_messages(signed_in_user(request)).filter(pk=message.pk))
        return Response(s.MessageSerializer(context=self.get_serializer_context()).to_representation(row), status=201)

    @extend_schema(
        summary="Upload a file to attach to a later message",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        parameters=[_LOCATION],
        responses={201: s.AttachmentSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"], parser_classes=[parsers.MultiPartParser, parsers.FormParser])
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        upload = _valid(s.AttachmentUploadSerializer, request.data)["file"]
        attachment = message_files.store_attachment(
            ticket=ticket,
            uploader=signed_in_user(request),
            content=upload,
            filename=upload.name or "",
            size=upload.size,
        )
        body = s.AttachmentSerializer(attachment, context=self.get_serializer_context()).data
        return Response(body, status=201, headers={"Location": body["download_url"]})

    @extend_schema(
        summary="Assign the ticket to an agent",
        request=s.AssignSerializer,
        responses={200: s.TicketDetailSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        _require_staff(request, "assign tickets")
        data = _valid(s.AssignSerializer, request.data)
        services.assign(
            ticket=ticket,
            actor=signed_in_user(request),
            agent=_agent_or_none(data["agent_id"], field="agent_id"),
            channel=_channel(request),
        )
        return self._detail(ticket.pk)

    @extend_schema(
        summary="Escalate the ticket to supervisors",
        request=s.EscalateSerializer,
        responses={200: s.TicketDetailSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        _require_staff(request, "escalate tickets")
        data = _valid(s.EscalateSerializer, request.data)
        services.escalate(
            ticket=ticket,
            actor=signed_in_user(request),
            reason=data["reason"],
            priority=data["priority"],
            channel=_channel(request),
        )
        return self._detail(ticket.pk)


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _require_staff(request: Request, action: str) -> None:
    """Checked before the body is validated: a customer is told they may not, not what to send.
    The service checks again; this only decides which refusal comes first."""
    if not request.user.is_staff:
        raise PermissionDenied(f"Only staff may {action}.")


def _agent_or_none(agent_id: Any, *, field: str) -> User | None:
    """The active staff user with this id (None unassigns); errors name the request's own field."""
    if agent_id is None:
        return None
    agent = User.objects.filter(pk=agent_id, is_staff=True, is_active=True).first()
    if agent is None:
        raise InvalidInput("Tickets can only be assigned to active staff.", {field: ["No active agent has this id."]})
    return agent


class AttachmentDownloadView(APIView):
    """Streams one file, checking on every request that the caller may see it."""

    @extend_schema(
        summary="Download an attachment",
        parameters=[
            OpenApiParameter(
                "disposition",
                OpenApiTypes.STR,
                enum=["attachment", "inline"],
                required=False,
                description="`inline` shows images in the browser; everything else downloads.",
            )
        ],
        responses={(200, "*/*"): OpenApiTypes.BINARY, **errors(400, 404)},
    )
    def get(self, request: Request, attachment_id: str) -> FileResponse:
        attachment = selectors.visible_attachment(signed_in_user(request), attachment_id)
        if attachment is None:
            raise ApiNotFound("No attachment with this id is visible to you.")
        disposition = request.query_params.get("disposition", "attachment")
        if disposition not in {"attachment", "inline"}:  # checked before the file is opened
            raise ValidationError({"disposition": ["Choose attachment or inline."]})
        try:
            handle = attachment.file.open("rb")
        except (FileNotFoundError, OSError) as exc:
            raise NotFound("The file is no longer stored.") from exc
        inline = disposition == "inline" and attachment.content_type.startswith("image/")
        response = FileResponse(
            handle,
            as_attachment=not inline,
            # Again here: files kept before names had to end as their bytes are (`stored_filename`).
            filename=stored_filename(attachment.filename, attachment.content_type),
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response
