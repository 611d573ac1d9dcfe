from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class TicketPagination(PageNumberPagination):
    """`page` from 1, `page_size` 10 by default; a larger page_size than 100 is served as 100."""

    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 100
