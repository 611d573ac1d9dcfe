import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from helpdesk.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
application_without_chunks = get_wsgi_application()

# The mail doors (the raw door, the providers' webhooks) take whole mails; everything else at most
# an upload and its form.
_MAIL_DOORS = ("/mailgateway/", "/anymail/")


def largest_body(path: str) -> int:
    if path.startswith(_MAIL_DOORS):
        return int(settings.INBOUND_MAX_BYTES)
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or settings.INBOUND_MAX_BYTES)


application = ChunkedBodies(
    application_without_chunks, largest_body=largest_body, in_memory=settings.FILE_UPLOAD_MAX_MEMORY_SIZE
)
