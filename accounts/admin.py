from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html

from .models import ApiKey, CustomField, CustomFieldValue, LearnerGroup, Membership, User, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["workspace"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "is_analyse_api_enabled",
        "raw_activity_retention_days",
        "pseudonymize_exports",
        "created_at",
    ]
    list_filter = ["is_analyse_api_enabled", "pseudonymize_exports"]
    search_fields = ["slug", "name"]
    date_hierarchy = "created_at"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "country", "is_staff", "date_joined", "results_link"]
    list_filter = ["is_staff", "is_superuser", "is_active", "gender", "education_level"]
    search_fields = ["email", "first_name", "last_name", "public_id"]
    date_hierarchy = "date_joined"
    readonly_fields = ["public_id", "last_login", "date_joined"]
    inlines = [MembershipInline]
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["email", "password", "public_id"]}),
        ("Profile", {"fields": ["first_name", "last_name", "avatar_url", "source"]}),
        ("Demographics", {"fields": ["birth_year", "gender", "education_level", "country"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def view_on_site(self, obj):
        """The admin's "View on site" button opens the user's results on the dashboards."""
        return f"{reverse('dashboard_results')}?user={obj.public_id}"

    @admin.display(description="Dashboard")
    def results_link(self, obj):
        return format_html('<a href="{}?user={}">Results</a>', reverse("dashboard_results"), obj.public_id)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "joined_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]
    autocomplete_fields = ["workspace"]
    date_hierarchy = "joined_at"
    list_select_related = ["user", "workspace"]
    show_full_result_count = False


@admin.register(LearnerGroup)
class LearnerGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "public_id"]
    list_filter = ["workspace"]
    search_fields = ["name", "public_id"]
    raw_id_fields = ["members"]
    list_select_related = ["workspace"]


class CustomFieldValueInline(admin.TabularInline):
    model = CustomFieldValue
    extra = 0
    raw_id_fields = ["user"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "public_id"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(CustomFieldValue)
class CustomFieldValueAdmin(admin.ModelAdmin):
    list_display = ["user", "field", "value"]
    list_filter = ["field__workspace", "field"]
    search_fields = ["user__email", "value"]
    raw_id_fields = ["user"]
    list_select_related = ["user", "field"]
    show_full_result_count = False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key`, which shows the secret once."""

    list_display = ["prefix", "name", "workspace", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["prefix", "name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False
