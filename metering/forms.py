"""The usage explorer's form: a meter, a customer, a time range and a bucket size."""

from datetime import UTC, timedelta

from django import forms

from catalog.models import Meter

MAX_BUCKETS = 2000


class UsageExplorerForm(forms.Form):
    meter = forms.ModelChoiceField(queryset=Meter.objects.order_by("code"), to_field_name="code")
    customer = forms.CharField(
        max_length=255,
        label="Customer external id",
        widget=forms.TextInput(attrs={"list": "explorer-customers", "size": 24}),
    )
    start = forms.DateTimeField(
        label="From (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        label="To (UTC, excluded)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    bucket = forms.ChoiceField(choices=[("hour", "Hour"), ("day", "Day")], initial="day")

    def clean(self):
        cleaned = super().clean()
        start, end, bucket = cleaned.get("start"), cleaned.get("end"), cleaned.get("bucket")
        if start is None or end is None or bucket is None:
            return cleaned
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        cleaned["start"], cleaned["end"] = start, end
        if end <= start:
            raise forms.ValidationError("The end must be after the start.")
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        if (end - start) / step > MAX_BUCKETS:
            raise forms.ValidationError(
                f"That is more than {MAX_BUCKETS} {bucket}s: pick a shorter range or a larger "
                "bucket."
            )
        return cleaned
