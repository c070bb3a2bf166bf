"""JSON endpoints of customer profiles and labels, for the inbox's script (inside the admin site).

Every view is wrapped by AdminSite.admin_view (login, staff, CSRF) and json_agent_required (the
console permission, the same rule as the console's). A view parses the request, calls one
service or selector and answers JSON; errors are JSON too: {"error": "..."} with 400, 403 or 404.
Customers are named by their conversations.Customer id (what the inbox has); the person behind
one is made on first look (services.person_for).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.conversations.models import Customer
from apps.customers import selectors, services
from apps.customers.models import Person

View = Callable[..., HttpResponse]


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def json_agent_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.can_serve(user=request.user):
            return _error(_("You may not use the console."), 403)
        try:
            return view(request, *args, **kwargs)
        except ValidationError as exc:
            return _error(" ".join(exc.messages), 400)
        except (Customer.DoesNotExist, Person.DoesNotExist):
            return _error(_("No such customer."), 404)

    return wrapper


def _id(value: str | None, what: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise ValidationError(_("Give a number for %(what)s.") % {"what": what}) from None
    if number <= 0:
        raise ValidationError(_("Give a number for %(what)s.") % {"what": what})
    return number


def _profile_json(person_id: int, request: HttpRequest) -> dict[str, Any]:
    return {
        "profile": selectors.profile(person_id=person_id).as_json(),
        "can_merge": request.user.has_perm(selectors.MERGE_PERMISSION),
    }


@require_GET
@json_agent_required
def profile(request: HttpRequest, customer_id: int) -> HttpResponse:
    person = services.person_for(customer_id=customer_id)
    return JsonResponse(_profile_json(person.pk, request))


@require_GET
@json_agent_required
def labels(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"labels": [row.__dict__ for row in selectors.labels()]})


@require_GET
@json_agent_required
def conversation_labels(request: HttpRequest) -> HttpResponse:
    ids = [_id(part, "ids") for part in request.GET.get("ids", "").split(",") if part.strip()]
    if len(ids) > services.BULK_MAX:
        raise ValidationError(_("At most %(max)d conversations at once.") % {"max": services.BULK_MAX})
    found = selectors.conversation_labels(ids)
    return JsonResponse({"labels": {str(pk): [row.__dict__ for row in rows] for pk, rows in found.items()}})


@require_POST
@json_agent_required
def label(request: HttpRequest) -> HttpResponse:
    """target=customer (id: a customer id) or conversation (id: one or more conversation ids)."""
    target, op = request.POST.get("target", ""), request.POST.get("op", "")
    label_id = _id(request.POST.get("label"), "label")
    if op not in ("add", "remove"):
        raise ValidationError(_("op is add or remove."))
    if target == "customer":
        person = services.person_for(customer_id=_id(request.POST.get("id"), "id"))
        change = services.customer_label_add if op == "add" else services.customer_label_remove
        changed = change(actor=request.user, person_id=person.pk, label_id=label_id)  # type: ignore[arg-type]
        return JsonResponse(
            {"changed": changed, "labels": [row.__dict__ for row in selectors.person_labels(person.pk)]}
        )
    if target == "conversation":
        ids = [_id(value, "id") for value in request.POST.getlist("id")]
        bulk = services.conversations_label if op == "add" else services.conversations_unlabel
        changed_ids = bulk(actor=request.user, conversation_ids=ids, label_id=label_id)  # type: ignore[arg-type]
        found = selectors.conversation_labels(ids)
        return JsonResponse(
            {"changed": changed_ids, "labels": {str(pk): [row.__dict__ for row in rows] for pk, rows in found.items()}}
        )
    raise ValidationError(_("target is customer or conversation."))


@require_POST
@json_agent_required
def note(request: HttpRequest) -> HttpResponse:
    person = services.person_for(customer_id=_id(request.POST.get("customer"), "customer"))
    created = services.customer_note_add(
        actor=request.user,  # type: ignore[arg-type]
        person_id=person.pk,
        body=request.POST.get("body", ""),
    )
    author = request.user.get_username()
    return JsonResponse(
        {"note": {"id": created.pk, "author": author, "body": created.body, "created_at": created.created_at}}
    )


@require_POST
@json_agent_required
def merge(request: HttpRequest) -> HttpResponse:
    """keep, merge: customer ids; the second one's profile goes into the first one's."""
    if not request.user.has_perm(selectors.MERGE_PERMISSION):
        return _error(_("You may not merge customers."), 403)
    keep = services.person_for(customer_id=_id(request.POST.get("keep"), "keep"))
    other = services.person_for(customer_id=_id(request.POST.get("merge"), "merge"))
    record = services.customers_merge(actor=request.user, keep_person_id=keep.pk, merge_person_id=other.pk)  # type: ignore[arg-type]
    return JsonResponse({"merge_id": record.pk, **_profile_json(keep.pk, request)})


@require_POST
@json_agent_required
def unmerge(request: HttpRequest) -> HttpResponse:
    """identity: an identity id from the profile (identities[].id, where can_unmerge)."""
    if not request.user.has_perm(selectors.MERGE_PERMISSION):
        return _error(_("You may not merge customers."), 403)
    restored = services.customers_unmerge(actor=request.user, identity_id=_id(request.POST.get("identity"), "identity"))  # type: ignore[arg-type]
    return JsonResponse({"restored": _profile_json(restored.pk, request)["profile"]})


@require_GET
@json_agent_required
def find(request: HttpRequest) -> HttpResponse:
    """q: part of a display name, or a channel id; exclude: a customer id whose profile to leave out."""
    exclude = request.GET.get("exclude")
    rows = selectors.find(
        query=request.GET.get("q", ""), exclude_customer_id=_id(exclude, "exclude") if exclude else None
    )
    return JsonResponse({"results": [row.__dict__ for row in rows]})
