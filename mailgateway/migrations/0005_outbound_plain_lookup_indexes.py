"""The outbound table's two lookup columns get plain, named indexes instead of `db_index`.

`db_index` on a text column gives PostgreSQL a second index for LIKE (varchar_pattern_ops),
which nothing queries and every send writes. The plain index `db_index` made is the one wanted,
only under its generated name: on PostgreSQL it is renamed (no rebuild, no long lock on the
table) and the LIKE one dropped; elsewhere (SQLite) dropped and built again under the new name.
"""

from django.db import migrations, models

TABLE = "mailgateway_outboundemail"
# (column, the index db_index made, the name it gets)
INDEXES = [
    ("message_id_header", "mailgateway_outboundemail_message_id_header_acb2a1c4", "outbound_message_id_header"),
    ("provider_message_id", "mailgateway_outboundemail_provider_message_id_e79f90b2", "outbound_provider_message_id"),
]


def to_named_indexes(apps, schema_editor):
    run = schema_editor.execute
    for column, generated, named in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            run(f'DROP INDEX IF EXISTS "{generated}_like"')
            run(f'ALTER INDEX IF EXISTS "{generated}" RENAME TO "{named}"')
        else:
            run(f'DROP INDEX IF EXISTS "{generated}"')
        run(f'CREATE INDEX IF NOT EXISTS "{named}" ON "{TABLE}" ("{column}")')


def to_generated_indexes(apps, schema_editor):
    run = schema_editor.execute
    for column, generated, named in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            run(f'ALTER INDEX IF EXISTS "{named}" RENAME TO "{generated}"')
            run(f'CREATE INDEX IF NOT EXISTS "{generated}_like" ON "{TABLE}" ("{column}" varchar_pattern_ops)')
        else:
            run(f'DROP INDEX IF EXISTS "{named}"')
        run(f'CREATE INDEX IF NOT EXISTS "{generated}" ON "{TABLE}" ("{column}")')


class Migration(migrations.Migration):
    dependencies = [
        ("mailgateway", "0004_dev_outbox_door"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(to_named_indexes, to_generated_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="outboundemail",
                    name="message_id_header",
                    field=models.CharField(max_length=998),
                ),
                migrations.AlterField(
                    model_name="outboundemail",
                    name="provider_message_id",
                    field=models.CharField(blank=True, max_length=255),
                ),
                migrations.AddIndex(
                    model_name="outboundemail",
                    index=models.Index(fields=["message_id_header"], name="outbound_message_id_header"),
                ),
                migrations.AddIndex(
                    model_name="outboundemail",
                    index=models.Index(fields=["provider_message_id"], name="outbound_provider_message_id"),
                ),
            ],
        ),
    ]
