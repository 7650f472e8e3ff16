"""The console's forms: the range of "usage by customer"."""

from datetime import UTC, timedelta

from django import forms

MAX_RANGE_DAYS = 366


class UsageRangeForm(forms.Form):
    """A range of days (UTC): from the start of `start` to the end of `end`, at most a year."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        if end < start:
            raise forms.ValidationError("The end must not be before the start.")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise forms.ValidationError(f"Pick at most {MAX_RANGE_DAYS} days.")
        return cleaned

    def window(self):
        """The range as datetimes [start 00:00, day after end 00:00) in UTC."""
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        first = forms.DateTimeField().to_python(str(start)).replace(tzinfo=UTC)
        last = forms.DateTimeField().to_python(str(end)).replace(tzinfo=UTC) + timedelta(days=1)
        return first, last
