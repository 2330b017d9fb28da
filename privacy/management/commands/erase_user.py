from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from privacy import services
from privacy.models import ErasureJob


class Command(BaseCommand):
    help = "Erase one person from a workspace now (synchronously), as POST /api/privacy/erasures does."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("email", nargs="?", help="The person's email")
        parser.add_argument("--job", help="Resume a failed or interrupted erasure job by its id (era_...)")

    def handle(self, *args, workspace, email, job, **options):
        try:
            space = Workspace.objects.get(slug=workspace)
        except Workspace.DoesNotExist:
            raise CommandError(f"--workspace: no workspace {workspace!r}") from None
        if job:
            record = ErasureJob.objects.filter(workspace=space, public_id=job).first()
            if record is None:
                raise CommandError(f"--job: no erasure job {job!r} in {workspace}")
        else:
            if not email:
                raise CommandError("email: give the person's email (or --job to resume)")
            try:
                subject = services.find_subject(space, email=email)
            except services.PersonNotFound:
                raise CommandError(f"email: nobody with that email in {workspace}; nothing done") from None
            record, _ = services.request_erasure(space, subject, "command:erase_user")
        self.stdout.write(f"{record.public_id}: erasing")
        report = services.run_erasure(record.pk, progress=lambda message: self.stdout.write(f"  {message}"))
        record.refresh_from_db()
        for kind, number in sorted(record.counts.items()):
            self.stdout.write(f"  {kind}: {number}")
        self.stdout.write(
            f"{record.public_id}: {record.status} ({report.transactions} transactions, "
            f"longest {report.longest_transaction_s:.3f} s)"
        )
