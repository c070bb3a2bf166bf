"""Console pages and actions, served inside the admin site (same login, same look).

Every view is wrapped by AdminSite.admin_view (login, staff, CSRF) and agent_required (the
console permission). Actions parse the POST, call one service and answer JSON for the page's
script; the page then resyncs from Postgres like it does on a websocket nudge.
"""

import dataclasses
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.console import canned, selectors, services
from apps.console.media import message_attachments_json
from apps.conversations.models import Conversation, Message
from apps.moderation.models import Category, Flag, TermAction
from apps.routing import selectors as routing_selectors
from apps.routing import services as routing

View = Callable[..., HttpResponse]
TERM_PERMISSION = "moderation.add_term"


def agent_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.can_use_console(user=request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    # Every console page carries the agent's availability control (base.html).
    availability = routing_selectors.availability(user_id=int(request.user.pk or 0))
    return render(
        request,
        template,
        {**admin.site.each_context(request), "title": title, "availability": availability, **context},
    )


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


@require_GET
@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category", "")
    severity = _int(request.GET.get("severity"))
    age = request.GET.get("age", "")
    filters = {"category": category, "severity": severity, "age": age}
    rows = selectors.review_queue(category=category, severity_min=severity or None, age=age)
    for row in rows:  # a flagged image: its text is what was flagged, its thumbnail shows what it was
        if row.flag.message is not None:
            row.media = message_attachments_json(row.flag.message)
    context = {"rows": rows, "filters": filters, "now": timezone.now()}
    if request.GET.get("fragment"):
        return render(request, "console/_queue_rows.html", context)
    return _page(
        request,
        "console/queue.html",
        _("Review queue"),
        categories=Category.choices,
        severities=range(1, 6),
        ages=[("1h", _("last hour")), ("24h", _("last 24 hours")), ("7d", _("last 7 days"))],
        term_actions=TermAction.choices,
        console_page="queue",
        **context,
    )


@require_GET
@agent_required
def conversations(request: HttpRequest) -> HttpResponse:
    mode = request.GET.get("mode", "")
    if mode not in Conversation.Mode.values:
        mode = ""
    context = {"rows": selectors.live_conversations(mode=mode), "mode": mode, "now": timezone.now()}
    if request.GET.get("fragment"):
        return render(request, "console/_conversation_rows.html", context)
    counts = selectors.mode_counts()
    return _page(
        request,
        "console/conversations.html",
        _("Live conversations"),
        modes=[(value, label, counts[value]) for value, label in Conversation.Mode.choices],
        console_page="conversations",
        **context,
    )


@require_GET
@agent_required
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        current = selectors.conversation_get(conversation_id=conversation_id)
    except Conversation.DoesNotExist as exc:
        raise Http404 from exc
    return _page(
        request,
        "console/conversation.html",
        _("Conversation with %(name)s") % {"name": current.customer},
        conversation=current,
        sla=selectors.conversation_sla(conversation_id=current.pk),
        canned=canned.canned_for(conversation=current, user=request.user),
        agents=selectors.agents(),
        media_max_bytes=settings.DESK_MEDIA_MAX_BYTES,
        media_max_mb=f"{settings.DESK_MEDIA_MAX_BYTES / (1024 * 1024):g}",
    )


def _state(conversation: Conversation, user_id: int | None) -> dict[str, Any]:
    assignee = conversation.assignee
    return {
        "mode": conversation.mode,
        "mode_label": conversation.get_mode_display(),
        "assignee_id": conversation.assignee_id,
        "assignee": assignee.get_username() if assignee is not None else "",
        "mine": conversation.assignee_id == user_id and conversation.mode == Conversation.Mode.HUMAN,
        "channel": selectors.channel_view(conversation=conversation),
        "sla": _sla_json(selectors.conversation_sla(conversation_id=conversation.pk)),
    }


def _sla_json(view: selectors.SlaView | None) -> dict[str, Any] | None:
    return dataclasses.asdict(view) if view is not None else None


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "direction": message.direction,
        "author_kind": message.author_kind,
        "author": message.author.get_username() if message.author is not None else "",
        "body": message.body,
        "status": message.status,
        # Why the channel refused it, with the channel's own code (e.g. "WeChat error 45015: ...").
        "error": message.error if message.status == Message.Status.FAILED else "",
        "at": message.created_at.isoformat(),
        "attachments": message_attachments_json(message),
    }


@require_GET
@agent_required
def timeline(request: HttpRequest, conversation_id: int) -> JsonResponse:
    current = get_object_or_404(Conversation.objects.select_related("assignee"), pk=conversation_id)
    found = selectors.conversation_timeline(
        conversation_id=conversation_id,
        after_message=_int(request.GET.get("after")),
        after_event=_int(request.GET.get("after_event")),
        after_note=_int(request.GET.get("after_note")),
        refresh=[_int(i) for i in request.GET.get("refresh", "").split(",") if i.strip().isdigit()],
    )
    return JsonResponse(
        {
            "state": _state(current, request.user.pk),
            "messages": [_message_json(m) for m in found.messages],
            "events": [
                {
                    "id": e.pk,
                    "kind": e.kind,
                    "label": e.get_kind_display(),
                    "actor": e.actor.get_username() if e.actor is not None else "",
                    "assignee": e.assignee.get_username() if e.assignee is not None else "",
                    "at": e.created_at.isoformat(),
                }
                for e in found.events
            ],
            "notes": [
                {
                    "id": n.pk,
                    "author": n.author.get_username() if n.author is not None else "",
                    "body": n.body,
                    "at": n.created_at.isoformat(),
                }
                for n in found.notes
            ],
        }
    )


def _conversation_action(request: HttpRequest, conversation_id: int, act: Callable[[], object]) -> JsonResponse:
    try:
        act()
    except services.ConversationTaken as exc:
        return JsonResponse({"error": str(exc), "holder": exc.holder}, status=409)
    except services.HandoffError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except Conversation.DoesNotExist:
        return JsonResponse({"error": "no such conversation"}, status=404)
    current = selectors.conversation_get(conversation_id=conversation_id)
    return JsonResponse({"ok": True, "state": _state(current, request.user.pk)})


@require_POST
@agent_required
def conversation_action(request: HttpRequest, conversation_id: int, action: str) -> JsonResponse:
    user: Any = request.user
    actions: dict[str, Callable[[], object]] = {
        "take-over": lambda: services.conversation_take_over(conversation_id=conversation_id, agent=user),
        "hand-back": lambda: services.conversation_hand_back(conversation_id=conversation_id, agent=user),
        "close": lambda: services.conversation_close(conversation_id=conversation_id, agent=user),
        "assign": lambda: services.conversation_assign(
            conversation_id=conversation_id, agent=user, assignee_id=_int(request.POST.get("assignee"))
        ),
        "reply": lambda: services.agent_reply(
            conversation_id=conversation_id, agent=user, body=request.POST.get("body", "")
        ),
        "channel": lambda: services.channel_act(
            conversation_id=conversation_id,
            agent=user,
            action=request.POST.get("action", ""),
            value=request.POST.get("value", ""),
        ),
        "note": lambda: services.note_add(
            conversation_id=conversation_id, author=user, body=request.POST.get("body", "")
        ),
    }
    if action not in actions:
        return JsonResponse({"error": "unknown action"}, status=404)
    return _conversation_action(request, conversation_id, actions[action])


@require_POST
@agent_required
def flag_action(request: HttpRequest, flag_id: int, action: str) -> JsonResponse:
    user: Any = request.user
    try:
        if action in ("confirm", "dismiss"):
            services.flag_decide(flag_id=flag_id, reviewer=user, decision=action)
        elif action == "term":
            # The queue is the agents'; the blacklist is the admins' (roles: docs/security.md).
            if not request.user.has_perm(TERM_PERMISSION):
                return JsonResponse({"error": "adding terms needs the admin role"}, status=403)
            services.flag_term_add(
                flag_id=flag_id,
                reviewer=user,
                text=request.POST.get("text", ""),
                category=request.POST.get("category", Category.OTHER),
                action=request.POST.get("action", TermAction.BLOCK),
            )
        elif action == "take-over":
            taken = services.flag_take_over(flag_id=flag_id, agent=user)
            return JsonResponse({"ok": True, "conversation_id": taken.pk})
        else:
            return JsonResponse({"error": "unknown action"}, status=404)
    except Flag.DoesNotExist:
        return JsonResponse({"error": "no such flag"}, status=404)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except services.ConversationTaken as exc:
        return JsonResponse({"error": str(exc), "holder": exc.holder}, status=409)
    except services.HandoffError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"ok": True})


@require_http_methods(["GET", "POST"])
@agent_required
def availability(request: HttpRequest) -> JsonResponse:
    """The agent sets themselves online, away or offline (offline hands their conversations on);
    GET: the control's state as it is now (the page rereads it when chats come and go)."""
    user_id = int(request.user.pk or 0)  # agent_required: a signed-in agent
    if request.method == "POST":
        try:
            routing.agent_status_set(user_id=user_id, status=request.POST.get("status", ""), actor_id=user_id)
        except ValueError as exc:
            return JsonResponse({"error": str(exc)}, status=400)
    found = routing_selectors.availability(user_id=user_id)
    return JsonResponse({"ok": True, "status": found["status"], "load": found["load"], "capacity": found["capacity"]})
