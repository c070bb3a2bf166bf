"""Sampling guard rails: the temperature band the seed recommends for DeepSeek-R1.

The seed's troubleshooting table (6.3) traces repeated replies (回复重复) to a temperature set too
high and prescribes 0.3-0.7; DeepSeek's own model card warns that R1 repeats itself endlessly or
loses coherence outside roughly that band too, at the cold end as well. The model field still takes
0-2 (other models have other sweet spots), so a value outside the band is allowed, but only when an
admin confirms it having read why.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.llm.models import PromptSettings

RECOMMENDED_TEMPERATURE = (0.3, 0.7)

TEMPERATURE_REASON = _(
    "DeepSeek-R1 is recommended at a temperature of %(low)s-%(high)s: above it replies start repeating "
    "themselves (the seed's troubleshooting table: 回复重复 ← 温度参数过高, set temperature to 0.3-0.7), and well "
    "below it R1 also loops or repeats. Tick the confirmation to keep %(value)s anyway."
)


def temperature_recommended(value: float) -> bool:
    low, high = RECOMMENDED_TEMPERATURE
    return low <= value <= high


class PromptSettingsForm(forms.ModelForm[PromptSettings]):
    confirm_temperature = forms.BooleanField(
        label=_("Use a temperature outside 0.3-0.7"),
        required=False,
        help_text=_("Only needed for a temperature outside the band the seed recommends for R1."),
    )

    class Meta:
        model = PromptSettings
        fields = [
            "instructions",
            "instructions_in_user_turn",
            "temperature",
            "top_p",
            "max_tokens",
            "context_turns",
            "context_max_tokens",
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        value = cleaned.get("temperature")
        if isinstance(value, float) and not temperature_recommended(value) and not cleaned.get("confirm_temperature"):
            low, high = RECOMMENDED_TEMPERATURE
            self.add_error("temperature", TEMPERATURE_REASON % {"low": low, "high": high, "value": value})
        return cleaned
