from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiKey, Role, Workspace


class Command(BaseCommand):
    help = "Create an API key for a workspace and print it once (the secret is the last word)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--role", default=Role.ADMIN, choices=Role.values)
        parser.add_argument("--name", default="", help="A label to recognise the key by")
        parser.add_argument(
            "--create-workspace", action="store_true", help="Create the workspace when it does not exist"
        )

    def handle(self, *args, workspace, role, name, create_workspace, **options):
        if create_workspace:
            Workspace.objects.get_or_create(slug=workspace, defaults={"name": workspace})
        try:
            target = Workspace.objects.get(slug=workspace)
        except Workspace.DoesNotExist as exc:
            raise CommandError(f"No workspace with slug {workspace!r}") from exc
        api_key, raw_key = ApiKey.issue(target, role=role, name=name)
        self.stdout.write(f"Created {role} API key {api_key.prefix} for workspace {target.slug}.")
        self.stdout.write("It is shown only this once; store it now:")
        self.stdout.write(raw_key)
