"""Template helpers of the web pages: a time shown exactly (and made relative by the page's
script, with the exact time kept on hover), and a form field with its label, help and errors."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from support.web.present import time_html

register = template.Library()


@register.simple_tag
def when(moment: datetime | None) -> SafeString:
    return mark_safe(time_html(moment))


@register.simple_tag
def field(bound: Any) -> SafeString:
    """A form field with its label, help text and errors, the errors in a live region."""
    errors = "".join(f'<p class="error">{escape(str(e))}</p>' for e in bound.errors)
    help_text = (
        f'<p class="help" id="{escape(bound.auto_id)}_helptext">{escape(str(bound.help_text))}</p>'
        if bound.help_text
        else ""
    )
    return mark_safe(
        f'<div class="field{" has-error" if bound.errors else ""}" data-field="{escape(bound.html_name)}">'
        f'<label for="{escape(bound.id_for_label)}">{escape(str(bound.label))}</label>{help_text}{bound}'
        f'<div class="field-errors" id="{escape(bound.auto_id)}_errors" aria-live="polite">{errors}</div></div>'
    )


@register.filter
def label_of(value: str) -> str:
    return str(value or "").replace("_", " ").capitalize()
