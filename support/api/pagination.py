"""Page-number pagination of the API's lists: `page` from 1, `page_size` 10 by default.

A `page` or `page_size` that is not a whole number from 1 is a `validation_error` naming the
parameter (DRF answers 404 for `page=abc` and quietly serves the default size for
`page_size=abc`); a `page_size` over 100 is served as 100, and a page past the last is a 404.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from support.models import Ticket
from support.ticket_counts import count_tickets


class TicketPaginator(Paginator):
    """A ticket list's count comes from `support.ticket_counts` (kept until a ticket changes)."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet) and self.object_list.model is Ticket:
            return count_tickets(self.object_list)
        return super().count


def _whole_number(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValidationError({name: ["A whole number from 1."]})
    return int(raw)


class TicketPagination(PageNumberPagination):
    django_paginator_class = TicketPaginator
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {
                    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]
                }
                parameter["description"] = "A page number from 1, or `last` for the last page."
            else:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Results per page, 10 by default; over {self.max_page_size} is served as {self.max_page_size}."
                )
        return parameters

    def get_page_size(self, request: Request) -> int:
        wanted = _whole_number(request, self.page_size_query_param)
        return self.page_size if wanted is None else min(wanted, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param, "").strip() in self.last_page_strings:
            return paginator.num_pages
        return _whole_number(request, self.page_query_param) or 1
