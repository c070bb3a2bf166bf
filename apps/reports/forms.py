from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import channel_choices
from apps.reports.models import Export
from apps.reports.selectors import ReportRange

MAX_DAYS = 366


def _channel_choices() -> list[tuple[str, Any]]:
    return [("", _("All channels")), *channel_choices()]


class RangeForm(forms.Form):
    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(
        label=_("Channel"), choices=lambda: [("", _("All channels")), *channel_choices()], required=False
    )

    @classmethod
    def from_query(cls, data: Any) -> "RangeForm":
        today = timezone.localdate()
        initial = {"date_from": today - timedelta(days=13), "date_to": today, "channel": ""}
        merged = {**{k: str(v) for k, v in initial.items()}, **{k: v for k, v in data.items() if v}}
        return cls(data=merged)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": MAX_DAYS})
        return cleaned

    def report_range(self) -> ReportRange:
        data = self.cleaned_data
        return ReportRange(date_from=data["date_from"], date_to=data["date_to"], channel=data.get("channel") or "")


class ExportForm(RangeForm):
    # Optional: requests from before conversation exports existed meant messages.
    kind = forms.ChoiceField(label=_("Rows"), choices=Export.Kind.choices, required=False)
    format = forms.ChoiceField(label=_("Format"), choices=Export.Format.choices)

    def clean_kind(self) -> str:
        return str(self.cleaned_data.get("kind") or Export.Kind.MESSAGES)
