from django.contrib import admin

from .models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "workspace",
        "type",
        "format",
        "pseudonymize",
        "status",
        "row_count",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "type", "format", "pseudonymize", "workspace"]
    search_fields = ["public_id", "requested_by__email"]
    raw_id_fields = ["requested_by", "requested_by_key"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ExportJob._meta.fields]
    list_select_related = ["workspace"]

    def has_add_permission(self, request):
        return False
