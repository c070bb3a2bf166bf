"""The rule tester: an admin pastes a text and sees why it would or would not be flagged.

Thin: parse the form, check the permission, ask the moderator to explain (the latest rules, no
flag recorded, no metric counted), render. Linked from the blacklist's change list.
"""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from apps.moderation import selectors
from apps.moderation.matcher import Hit
from apps.moderation.models import TermAction
from apps.moderation.moderator import ContentModerator, RuleTest

ROUTE_LABELS: dict[str, Promise] = {
    "keyword": _("keyword"),
    "confusable": _("look-alike characters"),
    "spaced": _("spaced letters"),
    "leet": _("leet"),
    "pinyin": _("pinyin"),
    "initials": _("pinyin initials"),
    "inserted": _("inserted character"),
    "regex": _("regular expression"),
}
VERDICT_LABELS: dict[str, Promise] = {
    "allow": _("allow"),
    "mask": _("mask"),
    "review": _("hand over"),
    "block": _("block"),
}
# What the spine does with each verdict (apps.conversations.services).
OUTCOMES: dict[str, dict[str, Promise]] = {
    "in": {
        "allow": _("The bot answers it."),
        "mask": _("The bot answers the masked text."),
        "review": _("The conversation is handed over to a human."),
        "block": _("The customer gets the blocked-message reply."),
    },
    "out": {
        "allow": _("The answer is sent."),
        "mask": _("The answer is sent masked."),
        "review": _("The answer is not sent; the fallback reply goes instead."),
        "block": _("The answer is not sent; the fallback reply goes instead."),
    },
}
MAX_TEXT = 5000


class RuleTesterForm(forms.Form):
    text = forms.CharField(
        label=_("Text"),
        max_length=MAX_TEXT,
        strip=False,  # test exactly what was pasted: spaces are part of some evasions
        widget=forms.Textarea(attrs={"rows": 4, "cols": 90, "placeholder": _("Paste a message or an answer")}),
    )


_moderator: ContentModerator | None = None


def _get_moderator() -> ContentModerator:
    global _moderator
    if _moderator is None:
        _moderator = ContentModerator(record_flags=False)
    return _moderator


@dataclass(frozen=True)
class Row:
    hit: Hit
    route: Promise
    category: str
    allowed_by: str

    @property
    def action(self) -> str:
        return str(TermAction(self.hit.action).label) if self.hit.action in TermAction.values else self.hit.action


def highlighted(text: str, hits: list[Hit]) -> SafeString:
    """The text with every hit's span in <mark>, escaped."""
    marked = [False] * len(text)
    for hit in hits:
        for i in range(hit.start, hit.end):
            marked[i] = True
    pieces: list[tuple[str, str]] = []
    for char, is_marked in zip(text, marked, strict=True):
        if pieces and pieces[-1][1] == str(is_marked):
            pieces[-1] = (pieces[-1][0] + char, pieces[-1][1])
        else:
            pieces.append((char, str(is_marked)))
    return format_html_join("", "{}", ((format_html("<mark>{}</mark>", p) if m == "True" else p,) for p, m in pieces))


def _context(result: RuleTest, text: str) -> dict[str, Any]:
    labels = selectors.category_labels()
    explanation = result.explanation
    rows = [
        Row(hit, ROUTE_LABELS.get(hit.via, _("other")), labels.get(hit.category, hit.category), "")
        for hit in explanation.hits
    ]
    cancelled = [
        Row(
            c.hit,
            ROUTE_LABELS.get(c.hit.via, _("other")),
            labels.get(c.hit.category, c.hit.category),
            "; ".join(entry.phrase for entry in c.allowed_by),
        )
        for c in explanation.cancelled
    ]
    action = result.verdict.action
    return {
        "result": result,
        "highlighted": highlighted(text, explanation.hits),
        "rows": rows,
        "cancelled": cancelled,
        "semantic": [(s, labels.get(s.category, s.category), s.score >= s.threshold) for s in result.semantic],
        "verdict_label": VERDICT_LABELS[action],
        "outcomes": [(_("Customer message"), OUTCOMES["in"][action]), (_("Bot answer"), OUTCOMES["out"][action])],
    }


def rule_tester_view(request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> HttpResponse:
    if not request.user.has_perm("moderation.view_term"):
        raise PermissionDenied
    form = RuleTesterForm(request.POST or None)
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "title": _("Rule tester"),
        "opts": model_admin.model._meta,
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        context.update(_context(_get_moderator().explain(text=text), text))
    return TemplateResponse(request, "admin/moderation/rule_tester.html", context)
