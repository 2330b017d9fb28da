from django.core.management.base import BaseCommand

from accounts.models import User
from courses.services.demo_data import DEMO_LOGINS, DEMO_WORKSPACE, demo_email


class Command(BaseCommand):
    help = "Print the demo's URLs and logins (emails and passwords) and how to get an API key."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="Where the site runs")
        parser.add_argument("--workspace", default=DEMO_WORKSPACE, help="Workspace slug (default: demo)")

    def handle(self, *args, url, workspace, **options):
        base = url.rstrip("/")
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"Learning analytics demo: {base}/"))
        for label, path in (
            ("Sign in", "/accounts/login/"),
            ("Learner dashboard", "/dashboard/"),
            ("Dashboards (instructors, admins)", "/dashboards/"),
            ("Django admin", "/admin/"),
            ("API docs", "/api/docs/"),
        ):
            out(f"  {label + ':':<34}{base}{path}")
        emails = {demo_email(login, workspace): login for login in DEMO_LOGINS}
        existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
        out("")
        if not existing:
            out(
                self.style.WARNING(
                    f"No demo logins in workspace {workspace!r} yet: run "
                    f"`python manage.py generate_demo_data --workspace {workspace}`."
                )
            )
        else:
            out(f"Demo logins (workspace {workspace!r}):")
            for email, login in emails.items():
                if email in existing:
                    extra = " (also Django admin superuser)" if login.role == "admin" else ""
                    out(f"  {login.role:<11} {email:<28} password: {login.password}{extra}")
        out("")
        out(f"API key for scripts: python manage.py create_api_key --workspace {workspace}")
        out("  then send `Authorization: Api-Key <key>`.")
        out("")
