"""Every admin page (changelist, add, one change page of every registered model) as every persona.

The matrix below is what each role may do per model; the pages must grant exactly that, narrowed
by what a model's admin offers at all (no "add" for messages, exports or the audit log, say).
A model registered later and missing here fails the test until someone decides who sees it.
"""

from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.db import models
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from tests.security.conftest import PERSONA_IDS, PERSONAS, Persona, World


@dataclass(frozen=True)
class Grants:
    view: frozenset[str] = field(default_factory=frozenset)
    add: frozenset[str] = field(default_factory=frozenset)
    change: frozenset[str] = field(default_factory=frozenset)
    delete: frozenset[str] = field(default_factory=frozenset)


CONFIGURATION = frozenset(
    {
        "moderation.term",
        "moderation.semanticrule",
        "moderation.contentcategory",
        "moderation.allowlistentry",
        "llm.endpoint",
        "llm.promptsettings",
        "knowledge.entry",
        "knowledge.humanrequestexample",
        "wechat.wechataccount",
        "console.cannedresponse",
        "wechat.wecomservicer",
        "wechat.menureply",
        "core.apitoken",
        "routing.team",
        "routing.routingrule",
        "routing.agentstatus",
        "routing.businesshours",
        "routing.slapolicy",
        "customers.label",
        "connectors.connector",
    }
)
CONVERSATIONS = frozenset({"conversations.conversation", "conversations.message", "conversations.customer"})
CUSTOMERS = frozenset({"customers.person", "customers.label"})
AXES = frozenset({"axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"})
# Staff accounts and groups are the superuser's alone: change_user could grant itself anything.
AUTH = frozenset({"auth.user", "auth.group"})
EVERY_MODEL = (
    frozenset(
        {
            "console.workspace",
            "moderation.flag",
            "wechat.wechatcontact",
            "wechat.kfcursor",
            # Replies waiting for a passive-mode OA callback: plumbing, the superuser's to inspect.
            "wechat.oapassivereply",
            "reports.export",
            "audit.auditlog",
            # Written by the routing beat; read by the people who read the reports and set the policies.
            "routing.slabreach",
            # Customers' ratings (CSAT): read only, for managers and admins.
            "conversations.satisfaction",
            # Customer profiles: read only in the admin (merges and labels go through the inbox).
            "customers.person",
            # The audit of shop look-ups: read only, for managers and admins.
            "connectors.lookup",
        }
    )
    | CONFIGURATION
    | CONVERSATIONS
    | AXES
    | AUTH
)

MATRIX: dict[str, Grants] = {
    "agent": Grants(
        view=CONVERSATIONS | CUSTOMERS | {"console.workspace", "console.cannedresponse", "moderation.flag"},
        change=frozenset({"moderation.flag"}),
    ),
    "manager": Grants(
        view=CONVERSATIONS
        | CUSTOMERS
        | {"reports.export", "audit.auditlog", "routing.slabreach", "conversations.satisfaction"}
        | {"connectors.lookup"}
    ),
    "admin": Grants(
        view=CONFIGURATION
        | AXES
        | {"moderation.flag", "wechat.wechatcontact", "wechat.kfcursor", "audit.auditlog", "routing.slabreach"}
        | {"conversations.satisfaction", "connectors.lookup"},
        add=CONFIGURATION,
        change=CONFIGURATION | {"moderation.flag"},
        delete=CONFIGURATION | {"axes.accessattempt"},
    ),
    "superuser": Grants(view=EVERY_MODEL, add=EVERY_MODEL, change=EVERY_MODEL, delete=EVERY_MODEL),
    "none": Grants(),
    "anonymous": Grants(),
}


def _offered(world: World) -> Grants:
    """What each model's admin offers a superuser at all: roles can only narrow this."""
    request = RequestFactory().get("/admin/")
    request.user = world.users["superuser"]
    sets: dict[str, set[str]] = {"add": set(), "change": set(), "delete": set()}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        obj = world.objects.get(label)
        if model_admin.has_add_permission(request):
            sets["add"].add(label)
        if model_admin.has_change_permission(request, obj):
            sets["change"].add(label)
        if model_admin.has_delete_permission(request, obj):
            sets["delete"].add(label)
    return Grants(EVERY_MODEL, *(frozenset(sets[k]) for k in ("add", "change", "delete")))


def _url(model: type[models.Model], page: str, *args: object) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)
    except NoReverseMatch:
        return None  # e.g. the console's entry has only its changelist (the review queue)


def test_every_registered_model_is_in_the_matrix() -> None:
    registered = {model._meta.label_lower for model in admin.site._registry}

    # core.apitoken is granted ahead of its admin page; every page that exists must be decided.
    assert registered - EVERY_MODEL == set()
    assert EVERY_MODEL - registered <= {"core.apitoken"}


@pytest.mark.parametrize("persona", PERSONAS, ids=PERSONA_IDS)
def test_admin_pages_grant_exactly_the_role(persona: Persona, world: World) -> None:
    grants, offered = MATRIX[persona.role], _offered(world)
    client = world.client(persona)
    denied = 302 if persona.kind == "anonymous" else 403
    got: dict[str, object] = {}
    want: dict[str, object] = {}

    index = client.get(reverse("admin:index"))
    got["index"], want["index"] = index.status_code, denied if persona.kind == "anonymous" else 200
    for model in admin.site._registry:
        label = model._meta.label_lower
        can_view = label in grants.view
        changelist = _url(model, "changelist")
        assert changelist is not None
        got[f"{label} changelist"] = client.get(changelist).status_code
        want[f"{label} changelist"] = 200 if can_view else denied
        if (add := _url(model, "add")) is not None:
            got[f"{label} add"] = client.get(add).status_code
            want[f"{label} add"] = 200 if label in grants.add & offered.add else denied
        obj = world.objects.get(label)
        if obj is not None and (change := _url(model, "change", obj.pk)) is not None:
            response = client.get(change)
            got[f"{label} change"] = response.status_code
            want[f"{label} change"] = 200 if can_view or label in grants.change else denied
            if response.status_code == 200:
                html = response.content.decode()
                # The submit row offers Save / Delete only to those who may; view-only gets "Close".
                got[f"{label} save"] = 'name="_save"' in html
                want[f"{label} save"] = label in grants.change & offered.change
                got[f"{label} delete"] = 'class="deletelink"' in html
                want[f"{label} delete"] = label in grants.delete & offered.delete

    # The index, then changelist, add and change of every model (the console's entry has only a changelist).
    assert len(got) >= 1 + 3 * len(admin.site._registry) - 2
    assert {k: v for k, v in got.items() if want[k] != v} == {k: v for k, v in want.items() if got[k] != v}
