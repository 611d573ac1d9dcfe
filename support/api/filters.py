"""List filters, search and ordering for tickets; invalid values are a 400, never ignored."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import ValidationError

from support.models import Category, Message, Priority, Source, Status, Ticket
from support.references import reference_spellings

ORDERINGS = {
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    # Severity, not the alphabet: low < medium < high < urgent.
    "priority": ("priority_rank", "-updated_at", "-id"),
    "-priority": ("-priority_rank", "-updated_at", "-id"),
}
DEFAULT_ORDERING = "-updated_at"


SEARCH_MAX_LENGTH = 200  # characters; the schema says it too (`schema.add_error_responses`)


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (also `1`/`0`, `yes`/`no`); anything else is an error.

    Django's NullBooleanField reads every other value as "not given", so `escalated=maybe`
    would list every ticket instead of saying the filter was not understood.
    """

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: not given
        text = str(value or "").strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        if text:
            raise forms.ValidationError("Use true or false.", code="invalid")
        return None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class TicketFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)
    source = django_filters.ChoiceFilter(choices=Source.choices)
    escalated = StrictBooleanFilter()
    assigned_agent = django_filters.UUIDFilter(
        method="filter_assigned_agent", help_text="Staff only: an agent's id (ignored for customers)."
    )
    unassigned = StrictBooleanFilter(method="filter_unassigned", help_text="Staff only.")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words in the title or message text, or the reference (SB-1042, or its number alone).",
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(key, key) for key in ORDERINGS],
        method="filter_ordering",
        help_text="created_at, updated_at or priority (by severity); prefix - for descending.",
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    @property
    def qs(self) -> QuerySet[Ticket]:
        queryset = super().qs
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by(*ORDERINGS[DEFAULT_ORDERING])
        return queryset

    def _is_staff(self) -> bool:
        user = getattr(self.request, "user", None)
        return bool(user and user.is_staff)

    def filter_assigned_agent(self, queryset: QuerySet[Ticket], name: str, value: UUID) -> QuerySet[Ticket]:
        return queryset.filter(assigned_agent_id=value) if self._is_staff() else queryset

    def filter_unassigned(self, queryset: QuerySet[Ticket], name: str, value: bool) -> QuerySet[Ticket]:
        return queryset.filter(assigned_agent__isnull=value) if self._is_staff() else queryset

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.replace("\x00", "").strip()
        if not value:
            return queryset
        messages = Message.objects.filter(ticket=OuterRef("pk"), message_text__icontains=value)
        if not self._is_staff():
            # A customer's search must not find words that only an internal note contains.
            messages = messages.filter(is_internal=False)
        return queryset.filter(
            Q(title__icontains=value)
            | Q(reference__in=reference_spellings(value, typed_loosely=True))
            | Exists(messages)
        )

    def filter_ordering(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return queryset.order_by(*ORDERINGS[value])

    def get_form_class(self) -> Any:
        # The form's fields depend on nothing of the request, and each form copies its fields:
        # the class is built once, not on every request (django-filter builds it every time).
        form_class = type(self).__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            type(self)._form_class = form_class
        return form_class

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if not valid:
            raise ValidationError(self.errors)
        return valid
