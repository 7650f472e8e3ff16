"""Admin: features (what plans grant) and the grants on the plan builder page (an inline whose
rows the plan services save with the plan, checked by the same rules as the API)."""

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from catalog.models import Feature, PlanFeature
from catalog.services.features import grant_terms
from rating import decimal_string


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "type", "meter"]
    list_filter = ["type"]
    search_fields = ["code", "name", "description"]
    list_select_related = ["meter"]
    autocomplete_fields = ["meter"]
    fields = ["code", "name", "type", "meter", "description"]

    def get_readonly_fields(self, request, obj=None):
        # Grants and the entitlement API name a feature by its code and read it by its type.
        return ["code", "type", "meter"] if obj is not None else []


def _percents(text: str) -> list:
    parts = [part.strip() for part in (text or "").replace("%", "").split(",")]
    return [int(part) if part.isdigit() else part for part in parts if part]


class GrantFormMixin(forms.Form):
    """A grant's fields (a plan's, or a subscription's override) checked with the API's rules
    (catalog.services.features.grant_terms); `alerts` typed as "80, 100"."""

    alerts_text = forms.CharField(
        label="Alerts (%)", required=False, help_text="Percents of the limit, e.g. 80, 100."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["alerts_text"] = ", ".join(str(p) for p in self.instance.alerts)
            if self.instance.limit is not None:
                self.initial["limit"] = decimal_string(self.instance.limit)

    def grant_values(self) -> dict:
        data = self.cleaned_data
        values = {
            "feature": data["feature"].code,
            "limit": data.get("limit"),
            "value": data.get("value") or "",
            "alerts": _percents(data.get("alerts_text", "")),
        }
        if data["feature"].type == "metered":  # the checkbox says nothing for the others
            values["hard"] = data.get("hard", True)
        return values

    def clean(self):
        cleaned = super().clean()
        feature = cleaned.get("feature")
        if feature is None or self.errors:
            return cleaned
        values = self.grant_values()
        values.pop("feature")
        terms, errors = grant_terms(feature=feature, values=values)
        for name, messages in errors.items():
            self.add_error("alerts_text" if name == "alerts" else name, messages)
        if not errors:
            for name, value in terms.items():
                setattr(self.instance, name, value)
        return cleaned


class PlanFeatureForm(GrantFormMixin, forms.ModelForm):
    class Meta:
        model = PlanFeature
        fields = ["feature", "limit", "hard", "value"]


class PlanFeatureInlineFormSet(BaseInlineFormSet):
    def grant_values(self) -> list[dict]:
        """The grants to keep, as the plan services take them."""
        return [
            form.grant_values()
            for form in self.forms
            if (form.has_changed() or form.instance.pk) and form.cleaned_data.get("feature")
            if not (self.can_delete and self._should_delete_form(form))
        ]
