from django.db import migrations

# The expression must stay the one Analyse sorts by userName (analytics/queries/analyse/pages.py,
# _USER_NAME_SQL, lower-cased): PostgreSQL uses an expression index only for the same expression.
# A page of a whole workspace by userName then walks the users in name order and each one's
# results (result_unique_user_course) until the page is full, instead of sorting every result.
# Raw SQL: the ORM's Concat does not compile to this expression.
USER_SORT_NAME_SQL = (
    "LOWER(COALESCE(NULLIF(TRIM(COALESCE(first_name, '') || ' ' || COALESCE(last_name, '')), ''), email))"
)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_workspace_retention_pseudonymize")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX user_sort_name_idx ON accounts_user (({USER_SORT_NAME_SQL}), id)",
            "DROP INDEX user_sort_name_idx",
        ),
    ]
