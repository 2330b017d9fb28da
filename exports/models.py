import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Role, Workspace


def new_export_id():
    return f"exp_{secrets.token_hex(10)}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSON = "json", "JSON"
    XLSX = "xlsx", "Excel (XLSX)"
    PARQUET = "parquet", "Parquet"


class ExportJob(models.Model):
    """A request for an export file, its progress, and where the finished file is stored.

    The file is only named (`file_name`) once it is completely written, so a job is never
    presented as complete with a partial file.
    """

    public_id = models.CharField(max_length=30, unique=True, default=new_export_id, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="export_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="export_jobs"
    )
    requested_by_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="export_jobs"
    )
    requester_role = models.CharField(max_length=20, choices=Role.choices)
    type = models.CharField(max_length=20)
    period = models.CharField(max_length=10)
    metrics = models.JSONField(default=list, blank=True)
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)
    pseudonymize = models.BooleanField(
        default=False, help_text="Learners' emails and names replaced by a keyed hash per workspace"
    )
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    rows_expected = models.PositiveBigIntegerField(null=True, blank=True)
    row_count = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    file_name = models.CharField(max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self):
        return f"{self.public_id} {self.type}.{self.format} ({self.status})"

    @property
    def progress(self):
        """0-100 from rows written over rows expected; 100 once completed."""
        if self.status == ExportStatus.COMPLETED:
            return 100
        if not self.rows_expected:
            return 0
        return min(99, int(self.row_count * 100 / self.rows_expected))
