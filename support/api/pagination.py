from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination

from support.models import Ticket
from support.ticket_counts import count_tickets


class TicketPaginator(Paginator):
    """A ticket list's count comes from `support.ticket_counts` (kept until a ticket changes)."""

    @cached_property
    def count(self) -> int:
        if getattr(self.object_list, "model", None) is Ticket:
            return count_tickets(self.object_list)
        return super().count


class TicketPagination(PageNumberPagination):
    """`page` from 1, `page_size` 10 by default; a larger page_size than 100 is served as 100."""

    django_paginator_class = TicketPaginator
    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 100
