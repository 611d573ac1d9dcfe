"""Forms of the web pages: they shape and check what a person typed; the services decide.

Files are checked here before anything is stored (size and the type read from the bytes, the
same rules `message_files.store_attachment` applies again), so a bad file is a field error on the
form and the ticket or reply is not written at all.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from support.files import check_file, max_size_mb
from support.models import PRIORITY_RANK, Category, Priority, Source, Status, User
from support.rules import MAX_TYPED_TEXT

MAX_FILES = 10


class QuickSelect(forms.Select):
    """A `<select>` built in Python: Django's widget renders a template per option, which made
    the queue's fourteen drop-downs most of the page's time. Same markup and attributes."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        chosen = {str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v is not None}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((str(v), mark_safe(" selected") if str(v) in chosen else "", label) for v, label in self.choices),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


def upload_problem(upload: UploadedFile) -> str | None:
    """Why this upload cannot be kept, or None when it can."""
    head = upload.read(8192)
    upload.seek(0)
    check = check_file(head, upload.size or 0, upload.name or "")
    if check.problem == "too_large":
        return f"{upload.name} is larger than the limit of {max_size_mb()} MB."
    if check.problem:
        return f"{upload.name}: this type of file is not accepted (images, PDF, text, CSV and office documents are)."
    return None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        uploads = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(uploads) > MAX_FILES:
            raise forms.ValidationError(f"Attach at most {MAX_FILES} files.")
        cleaned = [super(MultipleFileField, self).clean(f, initial) for f in uploads]
        problems = [p for p in (upload_problem(f) for f in cleaned) if p]
        if problems:
            raise forms.ValidationError(problems)
        return cleaned


def _files_field() -> MultipleFileField:
    return MultipleFileField(
        label="Attachments",
        help_text=f"Up to {MAX_FILES} files, each at most {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB: "
        "images, PDF, text, CSV or office documents.",
        widget=MultipleFileInput(attrs={"data-max-bytes": settings.ATTACHMENT_MAX_BYTES, "data-max-files": MAX_FILES}),
    )


def _message_field(label: str = "Message") -> forms.CharField:
    return forms.CharField(
        label=label, max_length=MAX_TYPED_TEXT, widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_TYPED_TEXT})
    )


class SignInForm(AuthenticationForm):
    username = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


def offer(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    """Set the choices of one of the form's choice fields (known only per request: the agents)."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{name} is not a choice field")
    field.choices = choices


class NewTicketForm(forms.Form):
    title = forms.CharField(label="Title", max_length=255)
    category = forms.ChoiceField(label="Category", choices=Category.choices, initial=Category.GENERAL)
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices, initial=Priority.MEDIUM)
    message_text = _message_field("What happened?")
    files = _files_field()  # type: ignore[assignment]  # the metaclass moves fields off the class


class ReplyForm(forms.Form):
    message_text = _message_field("Your reply")
    files = _files_field()  # type: ignore[assignment]  # the metaclass moves fields off the class


class StaffReplyForm(ReplyForm):
    KINDS = [("reply", "Reply to the customer"), ("note", "Internal note (staff only)")]
    kind = forms.ChoiceField(label="Send as", choices=KINDS, initial="reply", widget=forms.RadioSelect)
    message_text = _message_field("Message")
    field_order = ["kind", "message_text", "files"]


def _blank(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


class MyTicketsForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=_blank(Status.choices), required=False)
    category = forms.ChoiceField(label="Category", choices=_blank(Category.choices), required=False)
    q = forms.CharField(label="Search", max_length=200, required=False)
    page = forms.IntegerField(min_value=1, required=False)


QUEUE_VIEWS = [
    ("all", "All open"),
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("escalated", "Escalated"),
    ("waiting", "Waiting on customer"),
    ("everything", "Everything"),
]
QUEUE_SORTS = [
    ("-updated_at", "Recently updated"),
    ("updated_at", "Least recently updated"),
    ("-created_at", "Newest"),
    ("created_at", "Oldest"),
    ("-priority", "Most severe"),
    ("priority", "Least severe"),
]


def agent_choices() -> list[tuple[str, str]]:
    agents = User.objects.filter(is_staff=True, is_active=True).order_by("name", "email")
    return [(str(a.pk), a.display_name) for a in agents.only("id", "name", "email")]


class QueueForm(forms.Form):
    view = forms.ChoiceField(label="View", choices=QUEUE_VIEWS, required=False)
    status = forms.ChoiceField(label="Status", choices=_blank(Status.choices), required=False)
    priority = forms.ChoiceField(label="Priority", choices=_blank(Priority.choices), required=False)
    category = forms.ChoiceField(label="Category", choices=_blank(Category.choices), required=False)
    assignee = forms.ChoiceField(label="Assignee", required=False)
    escalated = forms.ChoiceField(
        label="Escalated", choices=[("", "Any"), ("yes", "Escalated"), ("no", "Not escalated")], required=False
    )
    channel = forms.ChoiceField(label="Channel", choices=_blank(Source.choices), required=False)
    q = forms.CharField(label="Search", max_length=200, required=False)
    sort = forms.ChoiceField(label="Sort by", choices=QUEUE_SORTS, required=False)
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args: Any, agents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer(self, "assignee", [("", "Anyone"), ("none", "Nobody"), *agents])


class BulkForm(forms.Form):
    ACTIONS = [("assign", "Assign to"), ("status", "Set status"), ("priority", "Set priority"), ("tag", "Add tag")]
    tickets = forms.TypedMultipleChoiceField(label="Tickets", coerce=str)
    action = forms.ChoiceField(label="Action", choices=ACTIONS)
    agent = forms.ChoiceField(label="Agent", required=False)
    status = forms.ChoiceField(label="Status", choices=_blank(Status.choices, "Choose"), required=False)
    priority = forms.ChoiceField(label="Priority", choices=_blank(Priority.choices, "Choose"), required=False)
    tag = forms.CharField(label="Tag", max_length=50, required=False)

    def __init__(self, *args: Any, agents: list[tuple[str, str]], ticket_ids: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")  # the queue's filters have fields of the same names
        super().__init__(*args, **kwargs)
        offer(self, "agent", [("", "Choose"), ("none", "Nobody"), *agents])
        offer(self, "tickets", [(i, i) for i in ticket_ids])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        fields = {"assign": "agent", "status": "status", "priority": "priority", "tag": "tag"}
        needed = fields.get(data.get("action", ""))
        if needed and not data.get(needed):
            self.add_error(needed, "Choose a value for this action.")
        return data


class ChangeTicketForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=Status.choices)
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices)
    category = forms.ChoiceField(label="Category", choices=Category.choices)
    tags = forms.CharField(label="Tags", required=False, max_length=1100, help_text="Comma-separated.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "change_%s")  # one page holds this and the escalation form
        super().__init__(*args, **kwargs)

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class AssignForm(forms.Form):
    agent = forms.ChoiceField(label="Assigned agent", required=False)

    def __init__(self, *args: Any, agents: list[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")
        super().__init__(*args, **kwargs)
        offer(self, "agent", [("", "Nobody"), *agents])


class EscalateForm(forms.Form):
    reason = forms.CharField(label="Reason for escalating", max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    priority = forms.ChoiceField(label="Raise priority to", choices=Priority.choices, initial=Priority.URGENT)

    def __init__(self, *args: Any, current: str = Priority.LOW, **kwargs: Any) -> None:
        """`current`: the ticket's priority, the lowest offered (escalating never lowers it)."""
        kwargs.setdefault("auto_id", "escalate_%s")
        super().__init__(*args, **kwargs)
        least = PRIORITY_RANK.get(current, 0)
        # Only what is offered: a post from a page older than a raise takes any priority (the
        # domain keeps the higher one).
        field = cast(forms.ChoiceField, self.fields["priority"])
        field.widget.choices = [(value, label) for value, label in Priority.choices if PRIORITY_RANK[value] >= least]


class CannedReplyForm(forms.Form):
    title = forms.CharField(label="Title", max_length=120)
    body = _message_field("Text")


class MetricsForm(forms.Form):
    PERIODS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last year")]
    days = forms.ChoiceField(label="Period", choices=PERIODS, required=False)


def _quick_selects(*form_classes: type[forms.Form]) -> None:
    for form_class in form_classes:
        for field in form_class.base_fields.values():
            if type(field.widget) is forms.Select:
                field.widget = QuickSelect(attrs=field.widget.attrs, choices=field.widget.choices)


_quick_selects(
    MyTicketsForm, NewTicketForm, QueueForm, BulkForm, ChangeTicketForm, AssignForm, EscalateForm, MetricsForm
)
