"""Admin for API keys (create: the key shown once; list; revoke) and the audit log."""

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin, messages
from django.utils import timezone

from billing.exports import exports_register
from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke
from billing.templatetags.audit_tags import audit_actor


class KeyStateFilter(admin.SimpleListFilter):
    """Active or revoked keys, in those words (not the stock "Empty / Not empty")."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", KeyStateFilter]
    search_fields = ["name", "prefix"]
    fields = ["name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        # A key's scope is chosen when it is issued: a wider scope needs a new key.
        return [*self.readonly_fields, "scope"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = api_key_create(
            name=form.cleaned_data["name"], scope=form.cleaned_data["scope"]
        )
        obj.pk = api_key.pk
        obj.__dict__.update(api_key.__dict__)
        messages.warning(request, f"Copy this key now, it will not be shown again: {raw_key}")

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_keys(self, request, queryset):
        now = timezone.now()
        for api_key in queryset:
            api_key_revoke(api_key=api_key, at=now)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


exports_register(admin.site)


# --- Audit log (docs/operations.md, "Audit log") ---------------------------------------------

admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogEntryAdmin(LogEntryAdmin):
    """django-auditlog's list, append-only: nobody (not even a superuser) edits or deletes an
    entry here; searchable by object, change, user or API key."""

    list_display = ["created", "resource_url", "action", "msg_short", "who"]
    search_fields = [
        "object_repr",
        "object_pk",
        "changes",
        "actor__username",
        "actor__email",
        "actor_email",
    ]
    list_filter = ["action", ResourceTypeFilter]
    fieldsets = [
        (None, {"fields": ["created", "who", "resource_url", "additional_data"]}),
        ("Changes", {"fields": ["action", "msg"]}),
    ]
    readonly_fields = ["created", "resource_url", "action", "who", "msg", "additional_data"]

    @admin.display(description="Who")
    def who(self, entry):
        return audit_actor(entry)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
