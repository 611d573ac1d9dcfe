"""Form fields as HTML, each with its label, help text and errors (the errors in a live region).

Rendering a field through Django's widget machinery takes about 0.1-0.3 ms, and the console's
queue has thirteen of them (its filters and its bulk actions), which was most of the page's
time. What a form renders to is fixed by its class, its choices and the data it is bound to
(errors included: validation is a function of those too), so the pages keep the HTML of the
forms they show most, keyed by exactly those (`functools.lru_cache` in the views).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import forms
from django.http import QueryDict
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def field_html(bound: forms.BoundField) -> str:
    """A form field with its label, help text and errors, the errors in a live region."""
    errors = "".join(f'<p class="error">{escape(str(e))}</p>' for e in bound.errors)
    help_text = (
        # Django's own help texts are HTML (the password rules: a list); ours are text, escaped here.
        f'<div class="help" id="{escape(bound.auto_id)}_helptext">{conditional_escape(bound.help_text)}</div>'
        if bound.help_text
        else ""
    )
    return (
        f'<div class="field{" has-error" if bound.errors else ""}" data-field="{escape(bound.html_name)}">'
        f'<label for="{escape(bound.id_for_label)}">{escape(str(bound.label))}</label>{help_text}{bound}'
        f'<div class="field-errors" id="{escape(bound.auto_id)}_errors" aria-live="polite">{errors}</div></div>'
    )


def fields_html(form: forms.Form, names: Iterable[str]) -> SafeString:
    return mark_safe("".join(field_html(form[name]) for name in names))


Data = tuple[tuple[str, tuple[str, ...]], ...]


def data_key(query: QueryDict, names: Iterable[str]) -> Data:
    """The values a query gives the named fields, hashable (a cache key of a bound form)."""
    return tuple((name, tuple(query.getlist(name))) for name in names if name in query)


def query_of(data: Data) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, values in data:
        query.setlist(name, list(values))
    return query
