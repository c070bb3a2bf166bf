"""The agent inbox: one screen with the conversation list, the conversation and the customer.

Wrapped like the other console views (AdminSite.admin_view + agent_required). The page is a
shell; its script reads the list as JSON and each conversation as a rendered pane, and rereads
both on the console websocket's nudges.
"""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.console import canned, inbox, inbox_search, inbox_services, selectors
from apps.console.models import AgentPreference
from apps.console.views import _int, _page, agent_required
from apps.conversations.models import Conversation


def lands_in_inbox(user: Any) -> bool:
    """Agents start in the inbox; superusers and the admin role keep the admin index."""
    if not selectors.can_use_console(user=user) or user.is_superuser:
        return False
    return not user.groups.filter(name="admin").exists()


def login(request: HttpRequest) -> HttpResponse:
    """The admin's login; an agent who signs in without asking for a page lands in the inbox."""
    response = admin.site.login(request)
    asked = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    index = reverse("admin:index")
    if (
        request.method == "POST"
        and response.status_code == 302
        and asked in ("", index)
        and lands_in_inbox(request.user)
    ):
        return redirect("admin:console_inbox")
    return response


def _tabs() -> list[tuple[str, str]]:
    labels = {"mine": _("Mine"), "unassigned": _("Unassigned"), "queued": _("Queued"), "all": _("All")}
    return [(tab, labels[tab]) for tab in inbox.TABS]


@require_GET
@agent_required
def inbox_page(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "console/inbox.html",
        _("Inbox"),
        tabs=_tabs(),
        choices=inbox.filter_choices(),
        sla_filters=[("ok", _("on time")), ("warning", _("due soon")), ("breached", _("overdue"))],
        agents=selectors.agents(),
        preferences=inbox.preferences(user_id=int(request.user.pk or 0)),
        open_id=_int(request.GET.get("c")),
        media_max_mb=f"{settings.DESK_MEDIA_MAX_BYTES / (1024 * 1024):g}",
        console_page="inbox",
    )


def _row_json(row: inbox.InboxRow) -> dict[str, Any]:
    c = row.conversation
    return {
        "id": c.pk,
        "customer": str(c.customer),
        "channel": c.channel,
        "channel_label": c.get_channel_display(),
        "mode": c.mode,
        "mode_label": c.get_mode_display(),
        "assignee_id": c.assignee_id,
        "assignee": c.assignee.get_username() if c.assignee is not None else "",
        "team": row.team,
        "unread": row.unread,
        "preview": row.preview,
        "preview_direction": row.preview_direction,
        "at": c.last_message_at.isoformat() if c.last_message_at else None,
        "sla": row.sla.__dict__ if row.sla is not None else None,
        "labels": [_label_json(label) for label in row.labels],
        "customer_labels": [_label_json(label) for label in row.customer_labels],
    }


def _label_json(label: Any) -> dict[str, Any]:
    return {"id": label.id, "name": label.name, "colour": label.colour}


@require_GET
@agent_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    user_id = int(request.user.pk or 0)
    filters = inbox.InboxFilters.parse(request.GET)
    found = inbox.inbox(user_id=user_id, filters=filters)
    watched = inbox.watch(user_id=user_id)
    return JsonResponse(
        {
            "tab": filters.tab,
            "rows": [_row_json(row) for row in found.rows],
            "counts": found.counts,
            "watch": {
                "mine": {pk: {"unread": n, "customer": watched.names[pk]} for pk, n in watched.mine.items()},
                "team_queue": watched.team_queue,
                "unread": watched.unread,
            },
        }
    )


@require_GET
@agent_required
def inbox_search_view(request: HttpRequest) -> JsonResponse:
    """The search box: hits in messages, notes and customer names under the list's filters."""
    filters = inbox.InboxFilters.parse(request.GET)
    found = inbox_search.inbox_search(user=request.user, filters=filters)
    kinds = {
        "message": _("message"),
        "note": _("internal note"),
        "customer": _("customer name"),
        "customer_note": _("customer note"),
    }
    return JsonResponse(
        {
            "q": filters.q,
            "too_short": found.too_short,
            "hits": [
                {
                    "kind": h.hit.kind,
                    "kind_label": kinds.get(h.hit.kind, h.hit.kind),
                    "conversation_id": h.hit.conversation_id,
                    "customer_id": h.hit.customer_id,
                    "message_id": h.hit.message_id,
                    "note_id": h.hit.note_id,
                    "customer": h.customer,
                    "channel": h.channel,
                    "channel_label": h.channel_label,
                    "at": h.hit.at.isoformat(),
                    "segments": [{"text": s.text, "hit": s.hit} for s in h.hit.segments],
                }
                for h in found.hits
            ],
        }
    )


@require_GET
@agent_required
def inbox_pane(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """One conversation for the centre pane and its customer for the right one, rendered."""
    try:
        current = selectors.conversation_get(conversation_id=conversation_id)
    except Conversation.DoesNotExist as exc:
        raise Http404 from exc
    context = {
        "conversation": current,
        "in_inbox": True,
        "sla": selectors.conversation_sla(conversation_id=current.pk),
        "canned": canned.canned_for(conversation=current, user=request.user),
        "agents": selectors.agents(),
        "media_max_bytes": settings.DESK_MEDIA_MAX_BYTES,
        "media_max_mb": f"{settings.DESK_MEDIA_MAX_BYTES / (1024 * 1024):g}",
        "panel": inbox.customer_panel(conversation=current),
    }
    return JsonResponse(
        {
            "id": current.pk,
            "title": str(current.customer),
            "conversation": render_to_string("console/_conversation_pane.html", context, request=request),
            "customer": render_to_string("console/_customer_panel.html", context, request=request),
        }
    )


@require_POST
@agent_required
def inbox_read(request: HttpRequest, conversation_id: int) -> JsonResponse:
    if not Conversation.objects.filter(pk=conversation_id).exists():
        return JsonResponse({"error": "no such conversation"}, status=404)
    inbox_services.read_marker_set(
        user=request.user,  # type: ignore[arg-type]  # agent_required: signed in
        conversation_id=conversation_id,
        message_id=_int(request.POST.get("message")),
    )
    return JsonResponse({"ok": True})


@require_POST
@agent_required
def inbox_bulk(request: HttpRequest) -> JsonResponse:
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action", "")
    if action not in inbox_services.BULK_ACTIONS:
        return JsonResponse({"error": "unknown action"}, status=400)
    errors = inbox_services.conversations_bulk(
        agent=request.user,  # type: ignore[arg-type]
        action=action,
        conversation_ids=ids,
        data={key: request.POST.get(key, "") for key in request.POST if key not in ("ids", "action")},
    )
    return JsonResponse({"ok": not errors, "done": len(ids) - len(errors), "errors": errors})


@require_http_methods(["GET", "POST"])
@agent_required
def inbox_preferences(request: HttpRequest) -> JsonResponse:
    """The agent's notification switches (each "true" or "false"), kept on the server."""
    if request.method == "POST":
        switches = {}
        for name in AgentPreference.SWITCHES:
            if name in request.POST:
                value = request.POST[name]
                if value not in ("true", "false"):
                    return JsonResponse({"error": f"{name} must be true or false"}, status=400)
                switches[name] = value == "true"
        inbox_services.preferences_set(user=request.user, switches=switches)  # type: ignore[arg-type]
    return JsonResponse({"ok": True, **inbox.preferences(user_id=int(request.user.pk or 0))})
