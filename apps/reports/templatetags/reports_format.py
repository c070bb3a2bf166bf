"""Display filters of the reports pages and e-mails: durations and shares as people read them."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()

_NONE = "–"


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as "1 小时 5 分" / "4 分 20 秒" / "45 秒" (rounded to the second); "–" when None."""
    if seconds is None:
        return _NONE
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        # Past an hour the seconds are noise on a report.
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


@register.filter
def share(value: float | None) -> str:
    """A 0-1 rate as "66.7%"; "–" when there was nothing to divide by."""
    return _NONE if value is None else f"{value * 100:.1f}%"


@register.filter
def score(value: float | None) -> str:
    """A mean CSAT score (1-5) with one decimal; "–" when nobody rated."""
    return _NONE if value is None else f"{value:.1f}"
