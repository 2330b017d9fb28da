"""The record of a learner's erasure (issue 22). Kept after the erasure; holds no personal data
once done: `subject` (whom to erase, needed by a retry) is emptied when the job finishes."""

import secrets

from django.db import models
from django.utils import timezone

from accounts.models import Workspace


def new_erasure_id():
    return f"era_{secrets.token_hex(10)}"


class ErasureStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ErasureJob(models.Model):
    """One erasure of one person in one workspace: who asked, when, and how many rows of each
    kind were removed (privacy.services.erasure)."""

    public_id = models.CharField(max_length=30, unique=True, default=new_erasure_id, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    requested_by = models.CharField(
        max_length=150, help_text="Who asked: `user:<public id>` (an admin) or `api_key:<name or prefix>`"
    )
    subject_hash = models.CharField(
        max_length=64,
        help_text="Keyed hash (HMAC-SHA256) of the erased person's identity: a repeated request finds its job",
    )
    subject = models.JSONField(
        default=dict, blank=True, help_text="Whom to erase (user id, agent keys) while the job runs; emptied when done"
    )
    status = models.CharField(max_length=10, choices=ErasureStatus.choices, default=ErasureStatus.QUEUED)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows removed per kind")
    error = models.TextField(blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "subject_hash"])]

    def __str__(self):
        return f"{self.public_id} ({self.status})"
