from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Attempt, Chapter, Course, Enrollment, Video


class ChapterInline(admin.TabularInline):
    model = Chapter
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "workspace", "created_at", "dashboard_link"]
    list_filter = ["workspace"]
    search_fields = ["key", "title"]
    raw_id_fields = ["instructors"]
    date_hierarchy = "created_at"
    inlines = [ChapterInline]
    list_select_related = ["workspace"]

    def view_on_site(self, obj):
        """The admin's "View on site" button opens the course dashboard (of the session's workspace)."""
        return reverse("dashboard_course", args=[obj.key])

    @admin.display(description="Dashboard")
    def dashboard_link(self, obj):
        return format_html('<a href="{}">Dashboard</a>', reverse("dashboard_course", args=[obj.key]))


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "course", "position"]
    search_fields = ["key", "title", "course__key"]
    autocomplete_fields = ["course"]
    list_select_related = ["course"]


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "course", "duration_s", "segment_length_s"]
    list_filter = ["workspace"]
    search_fields = ["key", "title", "course__key"]
    autocomplete_fields = ["course"]
    raw_id_fields = ["chapter"]
    list_select_related = ["course"]

    def view_on_site(self, obj):
        return reverse("dashboard_video", args=[obj.key])


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "mode", "kind", "enrolled_at", "unenrolled_at", "expires_at"]
    list_filter = ["mode", "kind", "workspace"]
    search_fields = ["user__email", "course__key"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["course"]
    date_hierarchy = "enrolled_at"
    list_select_related = ["user", "course"]
    show_full_result_count = False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["public_id", "user", "course", "state", "progress", "score", "time_spent_s", "last_activity_at"]
    list_filter = ["state", "workspace"]
    search_fields = ["public_id", "user__email", "course__key"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["course"]
    date_hierarchy = "last_activity_at"
    list_select_related = ["user", "course"]
    show_full_result_count = False
