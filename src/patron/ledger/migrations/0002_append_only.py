"""Triggers that refuse UPDATE and DELETE on postings, journals and lot moves (see ledger/guard.py)."""

from django.db import migrations

from patron.ledger import guard


def create(apps, schema_editor):
    statements = guard.postgres_sql() if schema_editor.connection.vendor == "postgresql" else guard.sqlite_sql()
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    for table in guard.APPEND_ONLY_TABLES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
