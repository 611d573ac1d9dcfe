"""Template helpers of the web pages: a time shown exactly (and made relative by the page's
script, with the exact time kept on hover), and a form field with its label, help and errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from support.web.fieldhtml import field_html
from support.web.present import time_html

register = template.Library()


@register.simple_tag
def when(moment: datetime | None) -> SafeString:
    return mark_safe(time_html(moment))


@register.simple_tag
def field(bound: Any) -> SafeString:
    """A form field with its label, help text and errors, the errors in a live region."""
    return mark_safe(field_html(bound))


@register.filter
def label_of(value: str) -> str:
    return str(value or "").replace("_", " ").capitalize()


@register.simple_tag
def dev_outbox_on() -> bool:
    """Whether the console shows the sent-mail page (DEV_OUTBOX)."""
    from django.conf import settings

    return bool(settings.DEV_OUTBOX)
