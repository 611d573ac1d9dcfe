"""Template helpers of the web pages: a time shown exactly (and made relative by the page's
script, with the exact time kept on hover), and a form field with its label, help and errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def when(moment: datetime | None) -> SafeString | str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    exact = local.strftime("%d %b %Y, %H:%M %Z")
    return format_html('<time datetime="{}" title="{}" data-relative>{}</time>', local.isoformat(), exact, exact)


@register.inclusion_tag("support/_field.html")
def field(bound: Any, **attrs: Any) -> dict[str, Any]:
    return {"field": bound, "attrs": attrs}


@register.filter
def label_of(value: str) -> str:
    return str(value or "").replace("_", " ").capitalize()
