from django.contrib import admin

from .models import (
    LearningEvent,
    PageSession,
    RequestMetric,
    VideoReaction,
    VideoView,
    XapiActivity,
    XapiAttachment,
    XapiDocument,
    XapiStatement,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Behaviour data is what learners did: it is looked at, never edited by hand."""

    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PageSession)
class PageSessionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "user", "page", "path", "duration_s", "course"]
    list_filter = ["page", "device"]
    search_fields = ["user__email", "path", "course_key"]
    raw_id_fields = ["user", "course"]
    date_hierarchy = "started_at"
    list_select_related = ["user", "course"]


@admin.register(LearningEvent)
class LearningEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "user", "type", "course", "object", "source"]
    list_filter = ["source", "type"]
    search_fields = ["user__email", "object"]
    raw_id_fields = ["user", "course"]
    date_hierarchy = "occurred_at"
    list_select_related = ["user", "course"]


@admin.register(VideoView)
class VideoViewAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "user", "video", "watched_s", "position_s", "is_completed", "device", "country"]
    list_filter = ["is_completed", "device", "platform"]
    search_fields = ["user__email", "video__key"]
    raw_id_fields = ["user", "video", "course"]
    date_hierarchy = "started_at"
    list_select_related = ["user", "video"]


@admin.register(VideoReaction)
class VideoReactionAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "video", "type"]
    list_filter = ["type"]
    search_fields = ["user__email", "video__key"]
    raw_id_fields = ["user", "video"]
    date_hierarchy = "at"
    list_select_related = ["user", "video"]


@admin.register(RequestMetric)
class RequestMetricAdmin(ReadOnlyAdmin):
    list_display = ["at", "method", "endpoint", "status", "latency_ms"]
    list_filter = ["method", "status"]
    search_fields = ["endpoint"]
    date_hierarchy = "at"


@admin.register(XapiStatement)
class XapiStatementAdmin(ReadOnlyAdmin):
    list_display = ["stored", "actor_key", "verb_id", "activity_id", "is_voided"]
    list_filter = ["is_voided"]
    search_fields = ["id", "actor_key", "verb_id", "activity_id"]
    raw_id_fields = ["user"]
    date_hierarchy = "stored"


@admin.register(XapiDocument)
class XapiDocumentAdmin(ReadOnlyAdmin):
    """State and profile documents, as the xAPI clients stored them (they change them, not people)."""

    list_display = ["updated_at", "workspace", "kind", "document_id", "activity_id", "agent_key", "content_type"]
    list_filter = ["kind"]
    search_fields = ["document_id", "activity_id", "agent_key"]
    date_hierarchy = "updated_at"
    exclude = ["content"]
    list_select_related = ["workspace"]


@admin.register(XapiActivity)
class XapiActivityAdmin(ReadOnlyAdmin):
    list_display = ["activity_id", "workspace", "updated_at"]
    search_fields = ["activity_id"]
    list_select_related = ["workspace"]


@admin.register(XapiAttachment)
class XapiAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["stored_at", "workspace", "sha2", "content_type", "length"]
    search_fields = ["sha2"]
    date_hierarchy = "stored_at"
    list_select_related = ["workspace"]
