from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from tutorhub.accounts.forms import AdminLoginForm
from tutorhub.accounts.models import ParentChildLink, User

# The admin's login counts against the same login limits as the API and the web form.
admin.site.login_form = AdminLoginForm


class ChildLinkInline(admin.TabularInline):
    model = ParentChildLink
    fk_name = "parent"
    extra = 0
    raw_id_fields = ["child"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "first_name", "last_name", "coins", "is_active", "date_joined"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "email", "first_name", "last_name", "phone_number"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (
            "TutorHub",
            {"fields": ["role", "phone_number", "language", "bio", "timezone", "language_preference",
                        "learning_style", "study_goals", "coins"]},
        ),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "role", "usable_password", "password1", "password2")}),
    )
    inlines = [ChildLinkInline]


@admin.register(ParentChildLink)
class ParentChildLinkAdmin(admin.ModelAdmin):
    list_display = ["parent", "child", "created_at"]
    raw_id_fields = ["parent", "child"]
    search_fields = ["parent__username", "parent__email", "child__username", "child__email"]
    list_select_related = ["parent", "child"]
