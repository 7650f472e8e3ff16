"""Admin forms: an endpoint's event types as checkboxes, templates checked before saving."""

from django import forms

from notifications.models import EVENT_TYPES, EmailTemplate, WebhookEndpoint
from notifications.services.emails import email_template_errors
from notifications.services.webhooks import webhook_endpoint_errors


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]

    def clean(self):
        cleaned = super().clean()
        if "url" in cleaned:
            errors = webhook_endpoint_errors(
                url=cleaned["url"], event_types=list(cleaned.get("event_types") or [])
            )
            for field, message in errors.items():
                self.add_error(field, message)
        return cleaned


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["enabled", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 16, "cols": 90})}

    def clean(self):
        cleaned = super().clean()
        errors = email_template_errors(
            subject=cleaned.get("subject", ""), body=cleaned.get("body", "")
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned
