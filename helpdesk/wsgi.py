import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from helpdesk.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
application = ChunkedBodies(
    get_wsgi_application(),
    largest_body=max(settings.INBOUND_MAX_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0),
    in_memory=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
)
