"""Settings of bench/web.py: the bench settings with a URLconf that adds the bare web view."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.web_urls"
