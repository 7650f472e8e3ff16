"""Admin of outgoing webhooks (endpoints; messages with their delivery log and "Resend") and
customer email templates (on/off, edit, "Send test")."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from notifications.email_defaults import DEFAULTS
from notifications.forms import EmailTemplateForm, WebhookEndpointForm
from notifications.models import (
    EmailTemplate,
    SentEmail,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from notifications.services.emails import email_send_test
from notifications.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_update,
    webhook_message_resend,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "listens_to", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret", "messages_link", "created_at", "updated_at"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "event_types", "is_active"]
        return fields + (["secret", "messages_link"] if obj is not None else [])

    @admin.display(description="Event types")
    def listens_to(self, endpoint):
        return ", ".join(endpoint.event_types) or "every type"

    @admin.display(description="Messages")
    def messages_link(self, endpoint):
        url = reverse("admin:notifications_webhookmessage_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">Delivery log</a>', url, endpoint.pk)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in WebhookEndpointForm.Meta.fields}
        if change:
            saved = webhook_endpoint_update(endpoint=obj, **values)
        else:
            saved = webhook_endpoint_create(**values)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["attempt", "attempted_at", "status_code", "error", "response_body", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-attempt", "-id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(admin.ModelAdmin):
    change_form_template = "admin/notifications/webhookmessage/change_form.html"
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["msg_id", "body"]
    fields = [
        "msg_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "body",
    ]
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]
    actions = ["resend_selected"]

    @admin.display(description="Last status")
    def last_status_code(self, message):
        last = message.deliveries.order_by("-attempt", "-id").first()
        if last is None:
            return "—"
        return last.status_code or last.error[:40]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="notifications_webhookmessage_resend",
            )
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_resend": self.has_change_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def resend_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        message = self.get_object(request, object_id)
        if message is None:
            raise Http404("No such webhook message.")
        webhook_message_resend(message=message, at=timezone.now())
        messages.success(request, f"Message {message.msg_id} queued to be sent again.")
        return HttpResponseRedirect(
            reverse("admin:notifications_webhookmessage_change", args=[message.pk])
        )

    @admin.action(description="Resend the selected messages", permissions=["change"])
    def resend_selected(self, request, queryset):
        at = timezone.now()
        for message in queryset:
            webhook_message_resend(message=message, at=at)
        self.message_user(request, f"{queryset.count()} message(s) queued to be sent again.")


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm
    change_form_template = "admin/notifications/emailtemplate/change_form.html"
    list_display = ["kind", "enabled", "subject", "updated_at"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["subject", "body"]
    readonly_fields = ["kind", "variables"]
    fields = ["kind", "enabled", "subject", "body", "variables"]

    @admin.display(description="Variables")
    def variables(self, template):
        return f"company (name, address, email, logo_url), {DEFAULTS[template.kind][2]}"

    def has_add_permission(self, request):
        return False  # one template per kind, created by migrate

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="notifications_emailtemplate_send_test",
            )
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_send_test": self.has_change_permission(request),
            "test_recipient": self._test_recipient(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _test_recipient(request) -> str:
        return request.user.email or settings.TALLY_COMPANY.get("email") or ""

    def send_test_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        template = self.get_object(request, object_id)
        if template is None:
            raise Http404("No such email template.")
        recipient = self._test_recipient(request)
        if not recipient:
            messages.error(request, "Your account has no email address to send the test to.")
        else:
            email_send_test(kind=template.kind, to=recipient)
            messages.success(request, f"Test of '{template}' sent to {recipient}.")
        return HttpResponseRedirect(
            reverse("admin:notifications_emailtemplate_change", args=[template.pk])
        )


@admin.register(SentEmail)
class SentEmailAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "kind", "recipient", "subject", "object_key"]
    list_filter = ["kind"]
    search_fields = ["recipient", "subject", "object_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
