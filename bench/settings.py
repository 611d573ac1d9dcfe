"""Bench-only settings: the real ones plus a URLconf with the bare comparison view."""

from helpdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
