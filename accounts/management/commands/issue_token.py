from django.core.management.base import BaseCommand, CommandError

from accounts.credentials import membership_for_user
from accounts.models import User
from accounts.tokens import issue_tokens


class Command(BaseCommand):
    help = "Print a bearer (JWT access) token for a user; the token is the last word."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--workspace", help="Workspace slug; default: the user's first workspace")

    def handle(self, *args, email, workspace, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}")
        membership = membership_for_user(user, workspace_slug=workspace)
        if membership is None:
            where = f"workspace {workspace!r}" if workspace else "any workspace"
            raise CommandError(f"{email} is not a member of {where}")
        _, access = issue_tokens(user, membership.workspace)
        self.stdout.write(f"Bearer token for {user.email} as {membership.role} in {membership.workspace.slug}:")
        self.stdout.write(str(access))
