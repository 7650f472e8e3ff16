"""Admin for API keys: create (key shown once), list, revoke."""

from django.contrib import admin, messages
from django.utils import timezone

from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
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


admin.site.site_header = "Tally"
admin.site.site_title = "Tally billing"
admin.site.index_title = "Billing operations"
