"""Start-up refusals, the admin pages and the demo data command."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from support.models import Message, Ticket, User
from tests.builders import make_attachment, make_reply, make_ticket

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_development_secret_key():
    result = start_django(DEBUG="false", ALLOWED_HOSTS="help.example.com")
    assert result.returncode != 0 and "set SECRET_KEY" in result.stderr


def test_production_refuses_empty_allowed_hosts():
    result = start_django(DEBUG="false", SECRET_KEY="k" * 50)
    assert result.returncode != 0 and "set ALLOWED_HOSTS" in result.stderr


def test_production_refuses_the_dev_outbox():
    result = start_django(DEBUG="false", SECRET_KEY="k" * 50, ALLOWED_HOSTS="help.example.com", DEV_OUTBOX="true")
    assert result.returncode != 0 and "Unset DEV_OUTBOX" in result.stderr


def test_production_starts_with_both_set():
    result = start_django(DEBUG="false", SECRET_KEY="k" * 50, ALLOWED_HOSTS="help.example.com")
    assert result.returncode == 0, result.stderr


def test_a_bad_boolean_names_the_variable():
    result = start_django(DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG='maybe' is not a boolean" in result.stderr


def test_env_example_loads_in_the_shell_as_the_readme_says():
    """`set -a; . ./.env; set +a` must reach the file's end: an unquoted value with a space or a
    `<` stops the shell at that line, and every variable after it is silently missing."""
    result = subprocess.run(
        ["bash", "-c", "set -a; . ./.env.example; set +a; env"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and not result.stderr, result.stderr
    loaded = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert loaded["DEFAULT_FROM_EMAIL"] == "SewaBazaar Support <support@example.com>"
    assert loaded["OUTBOUND_CONCURRENCY"] == "2"  # near the file's end
    names = [line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line]
    assert [name for name in names if not name.startswith("#") and name not in loaded] == []


def test_database_url_selects_postgresql():
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DATABASE_URL": "postgres://u:p@db:5432/h"},
        timeout=60,
    )
    assert result.stdout.strip() == "django.db.backends.postgresql", result.stderr


def test_the_embedded_default_queues_a_task_without_a_broker_warning(tmp_path):
    """Celery acquires a broker connection even for eager tasks; a memory broker without a host
    made kombu warn "No hostname was supplied" on every mail a new user fed in."""
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING); "
        "from mailgateway.tasks import send_outbound; send_outbound.delay('00000000-0000-0000-0000-000000000000')"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DATABASE_URL": f"sqlite:///{tmp_path}/db"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "No hostname" not in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["user", "ticket", "message", "attachment", "ticketevent"])
def test_every_admin_page_renders_with_data_search_and_filters(client, admin_user, customer_a, agent, model):
    ticket = make_ticket(customer_a)
    message = make_reply(ticket, agent, "note", is_internal=True)
    attachment = make_attachment(ticket, agent)
    objects = {
        "user": customer_a,
        "ticket": ticket,
        "message": message,
        "attachment": attachment,
        "ticketevent": ticket.events.first(),
    }
    client.force_login(admin_user)
    base = f"/admin/support/{model}/"
    assert client.get(base).status_code == 200
    assert client.get(base, {"q": "asha"}).status_code == 200
    filtered = {"ticket": {"status__exact": "open"}, "message": {"is_internal__exact": "1"}}.get(model, {})
    assert client.get(base, filtered).status_code == 200
    assert client.get(f"{base}{objects[model].pk}/change/").status_code == 200


@pytest.mark.django_db
def test_the_demo_data_is_loaded_once_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "agent@sewabazaar.test" in out.getvalue() and "sewa-demo-2026" in out.getvalue()
    assert User.objects.filter(is_staff=True).count() == 2 and User.objects.filter(is_staff=False).count() == 2
    assert User.objects.get(email="admin@sewabazaar.test").is_superuser
    tickets, messages = Ticket.objects.count(), Message.objects.count()
    assert tickets >= 3 and messages > tickets
    assert Message.objects.filter(is_internal=True).exists()
    call_command("seed_demo", stdout=StringIO())
    assert (Ticket.objects.count(), Message.objects.count()) == (tickets, messages)
