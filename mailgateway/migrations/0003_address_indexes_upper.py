"""Indexes on the upper-cased addresses: mail addresses compare case-insensitively (`__iexact`,
UPPER() on both sides on PostgreSQL), which indexes on the plain columns cannot serve."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mailgateway", "0002_outbound_and_held"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="outboundemail",
            name="outbound_to_template",
        ),
        migrations.AddIndex(
            model_name="outboundemail",
            index=models.Index(
                django.db.models.functions.text.Upper("to_address"),
                models.F("template"),
                models.F("created_at"),
                name="outbound_to_upper_template",
            ),
        ),
        migrations.AddIndex(
            model_name="undeliverableaddress",
            index=models.Index(django.db.models.functions.text.Upper("address"), name="undeliverable_address_upper"),
        ),
    ]
