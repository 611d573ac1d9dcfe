"""Form fields as HTML: each with its label, help text and errors, and the finished HTML of
whole groups of fields kept in memory, so a page does not run Django's form rendering again for
markup it produced before.

Rendering a field through Django's widget machinery takes about 0.1-0.3 ms, and the console's
queue has thirteen of them (its filters and its bulk actions), which was most of the page's
time. What a group of fields renders to is fixed by the form class, its choices and the data
the form is bound to (errors included: validation is a function of those too), so the caller
names those in `key` and the HTML is built once per process for each distinct key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from html import escape

from django import forms
from django.utils.safestring import SafeString, mark_safe

# Distinct filter combinations kept per process; the oldest goes first when it is full.
MAX_KEPT = 512
_kept: dict[Hashable, SafeString] = {}
_lock = threading.Lock()


def field_html(bound: forms.BoundField) -> str:
    """A form field with its label, help text and errors, the errors in a live region."""
    errors = "".join(f'<p class="error">{escape(str(e))}</p>' for e in bound.errors)
    help_text = (
        f'<p class="help" id="{escape(bound.auto_id)}_helptext">{escape(str(bound.help_text))}</p>'
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


def bound_values(form: forms.Form, names: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """What the named fields were given (part of a `fields_group()` key for a bound form)."""
    if not form.is_bound:
        return ()
    return tuple(tuple(form.data.getlist(name)) for name in names)


def fields_group(key: Hashable, form: Callable[[], forms.Form], names: Iterable[str]) -> SafeString:
    """The named fields of the form that `form()` builds, rendered once per `key`.

    `key` must hold everything the HTML depends on: which form and fields, the dynamic choices
    and, for a bound form, `bound_values()`. The form is only built when the key is new.
    """
    html = _kept.get(key)
    if html is None:
        html = fields_html(form(), names)
        with _lock:
            if len(_kept) >= MAX_KEPT:
                _kept.pop(next(iter(_kept)))
            _kept[key] = html
    return html
