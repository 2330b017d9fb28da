from django.contrib import admin

from .models import ErasureJob


@admin.register(ErasureJob)
class ErasureJobAdmin(admin.ModelAdmin):
    """Read-only: the record of each erasure (no personal data; the subject is never shown)."""

    list_display = ("public_id", "workspace", "status", "requested_by", "counts", "tries", "created_at", "finished_at")
    list_filter = ("status", "workspace")
    fields = (
        "public_id",
        "workspace",
        "status",
        "requested_by",
        "counts",
        "error",
        "tries",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
