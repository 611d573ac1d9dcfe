"""The files of messages: an upload checked (size, real type) and kept, then linked to the message
it was sent with; a mail's files and inline images linked after its message was written.

Writes `Attachment` rows and their files in storage, a message's display HTML, and the ticket's
conversation version (so that a cached conversation is not served without its files)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import F

from .errors import FileTooLarge, InvalidFileType, InvalidInput
from .files import check_file, max_size_mb, stored_filename
from .models import Attachment, Message, Ticket, User
from .rules import require_conversation


def find_chosen_uploads(ticket: Ticket, author: User, attachment_ids: Sequence[Any]) -> list[Attachment]:
    """The files a message is sent with: the author's own uploads to this ticket, not yet sent."""
    if not attachment_ids:
        return []
    ids = list(dict.fromkeys(str(i) for i in attachment_ids))
    found = list(Attachment.objects.filter(pk__in=ids, ticket=ticket, message__isnull=True, uploaded_by=author))
    if len(found) != len(ids):
        raise InvalidInput(
            "Some attachments cannot be used.",
            {"attachment_ids": ["Each attachment must be your own earlier upload to this ticket, not yet sent."]},
        )
    return found


def link_attachments(message: Message, attachments: Sequence[Attachment]) -> None:
    ids = [a.pk for a in attachments]
    if ids:
        Attachment.objects.filter(pk__in=ids).update(message=message)


def store_attachment(
    *, ticket: Ticket, uploader: User, content: IO[bytes], filename: str, size: int, content_id: str = ""
) -> Attachment:
    """Keep an uploaded or mailed file after checking its size and its real type."""
    require_conversation(uploader, ticket)
    head = content.read(8192)
    content.seek(0)
    check = check_file(head, size, filename)
    if check.problem == "too_large":
        raise FileTooLarge(
            f"The file is larger than the limit of {max_size_mb()} MB.",
            {"file": [f"Files may be at most {settings.ATTACHMENT_MAX_BYTES} bytes; this one is {size}."]},
        )
    if check.problem:
        raise InvalidFileType(
            "This type of file is not accepted.",
            {"file": [f"The file's contents are {check.content_type}, which is not an allowed type."]},
        )
    name = stored_filename(filename, check.content_type)
    attachment = Attachment(
        ticket=ticket,
        uploaded_by=uploader,
        filename=name,
        file_size=size,
        content_type=check.content_type,
        content_id=content_id[:255],
    )
    attachment.file.save(name, File(content), save=False)
    attachment.save()
    return attachment


def attach_to_message(*, message: Message, attachments: Sequence[Attachment], html: str | None = None) -> None:
    """Files kept after their message was written (a mail's attachments and inline images)."""
    html_changed = html is not None and html != message.html
    if not (attachments or html_changed):
        return
    with transaction.atomic():
        link_attachments(message, attachments)
        if html is not None and html_changed:
            message.html = html
            Message.objects.filter(pk=message.pk).update(html=html)
        bump_conversation_version(message.ticket_id)


def set_message_html(*, message: Message, html: str) -> None:
    """The display HTML of a mailed message, once its inline images point at stored files."""
    message.html = html
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(html=html)
        bump_conversation_version(message.ticket_id)


def bump_conversation_version(ticket_id: Any) -> None:
    """A message's files or HTML changed after the message was counted: a conversation kept in
    the cache under the ticket's current version is no longer the conversation."""
    Ticket.objects.filter(pk=ticket_id).update(conversation_version=F("conversation_version") + 1)
