"""Personas and one object of every admin-registered model, for the role tests.

Per role (agent, manager, admin): an owner (holds the role and owns the objects: the assigned
conversation, the export, the note), a teammate (same role, owns nothing) and an outsider (active
staff in no group). Plus a superuser and anonymous visitors.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.db import models
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.connectors.models import Connector, Lookup
from apps.console.models import CannedResponse, Note
from apps.conversations.models import Conversation, Customer, Message, Satisfaction
from apps.core.services import api_token_create
from apps.customers.models import Label
from apps.customers.services import person_for
from apps.knowledge.models import Entry, HumanRequestExample
from apps.llm.models import Endpoint, PromptSettings
from apps.moderation.models import AllowlistEntry, ContentCategory, Flag, SemanticRule, Term
from apps.reports.models import Export
from apps.routing.models import AgentStatus, BusinessHours, RoutingRule, SlaBreach, SlaPolicy, Team
from apps.wechat.models import KfCursor, MenuReply, OaPassiveReply, WechatAccount, WechatContact, WecomServicer

ROLES = ("agent", "manager", "admin")
_roles_migration = importlib.import_module("apps.core.migrations.0012_roles_connectors")
_roles_helpers = importlib.import_module("apps.core.migrations.0002_roles")


@dataclass(frozen=True)
class Persona:
    name: str
    role: str  # agent | manager | admin | superuser | none | anonymous
    kind: str  # owner | teammate | outsider | superuser | anonymous


PERSONAS = [
    *[
        Persona(f"{role}-{kind}", role if kind != "outsider" else "none", kind)
        for role in ROLES
        for kind in ("owner", "teammate", "outsider")
    ],
    Persona("superuser", "superuser", "superuser"),
    Persona("anonymous", "anonymous", "anonymous"),
]
PERSONA_IDS = [p.name for p in PERSONAS]


@dataclass
class World:
    users: dict[str, User]
    objects: dict[str, models.Model]  # "app_label.model_name" -> one instance
    conversation: Conversation
    message: Message
    flags: list[Flag]
    export: Export

    def client(self, persona: Persona) -> Client:
        client = Client()
        if persona.name in self.users:
            client.force_login(self.users[persona.name])
        return client


def roles_ensure() -> None:
    # The migration made the groups; a transactional test elsewhere may have flushed them since.
    _roles_helpers.roles_grant(django_apps, _roles_migration.ROLES)


def _people() -> dict[str, User]:
    roles_ensure()
    users: dict[str, User] = {}
    for persona in PERSONAS:
        if persona.kind == "anonymous":
            continue
        user = User.objects.create_user(
            persona.name, password="pw-persona-123", is_staff=True, is_superuser=persona.kind == "superuser"
        )
        if persona.role in ROLES:
            user.groups.add(Group.objects.get(name=persona.role))
        users[persona.name] = user
    return users


def build_world(tmp_path: Path) -> World:
    users = _people()
    agent = users["agent-owner"]
    customer = Customer.objects.create(channel="simulator", external_id="sec-1", display_name="张三")
    conversation = Conversation.objects.create(
        customer=customer, channel="simulator", mode=Conversation.Mode.HUMAN, assignee=agent
    )
    messages = [
        Message.objects.create(
            conversation=conversation,
            channel="simulator",
            direction="in",
            author_kind="customer",
            body="你这个骗子",
            status=Message.Status.HANDED_OVER,
        )
        for _ in range(4)
    ]
    message = messages[0]
    hit = {"term": "骗子", "category": "fraud", "severity": 3, "action": "flag", "span": [3, 5]}
    flags = [
        Flag.objects.create(message=m, direction="in", verdict="review", text=m.body, evidence={"hits": [hit]})
        for m in messages
    ]
    Note.objects.create(conversation=conversation, author=agent, body="VIP")
    export = Export.objects.create(
        requested_by=users["manager-owner"],
        format=Export.Format.CSV,
        date_from=timezone.localdate(),
        date_to=timezone.localdate(),
        status=Export.Status.DONE,
        rows_done=1,
    )
    export.file.save("messages.csv", ContentFile(b"id,body\n1,x\n"), save=True)
    account = WechatAccount.objects.create(
        kind=WechatAccount.Kind.values[0], name="oa", app_id="wx1", secret="s", token="t"
    )
    audit_record(kind=AuditLog.Kind.STAFF, event="staff.login", actor_id=agent.pk)
    _access = {"user_agent": "ua", "ip_address": "10.0.0.9", "username": "x", "http_accept": "*/*", "path_info": "/"}
    objects: dict[str, models.Model] = {
        "conversations.customer": customer,
        "conversations.conversation": conversation,
        "conversations.message": message,
        "moderation.flag": flags[0],
        "moderation.term": Term.objects.create(text="骗子", category="fraud", severity=3, action="flag"),
        # Disabled: an enabled rule would load the sentence model into the moderator.
        "moderation.semanticrule": SemanticRule.objects.create(category="fraud", examples="转账", enabled=False),
        "moderation.contentcategory": ContentCategory.objects.create(key="gambling", name="赌博"),
        "moderation.allowlistentry": AllowlistEntry.objects.create(phrase="防骗子指南", category="fraud"),
        "llm.endpoint": Endpoint.objects.create(name="gpu-1", base_url="http://127.0.0.1:9", model="m"),
        "llm.promptsettings": PromptSettings.objects.first() or PromptSettings.objects.create(instructions="hi"),
        "knowledge.entry": Entry.objects.create(question="营业时间？", answer="九点到五点"),
        "knowledge.humanrequestexample": HumanRequestExample.objects.get_or_create(
            text="帮我找个真人", defaults={"kind": HumanRequestExample.Kind.POSITIVE}
        )[0],
        "wechat.wechataccount": account,
        "wechat.wechatcontact": WechatContact.objects.create(account=account, customer=customer, user_id="o-1"),
        "wechat.kfcursor": KfCursor.objects.create(account=account, open_kfid="kf-1"),
        "console.cannedresponse": CannedResponse.objects.create(title="Hi", shortcut="hi", body="您好"),
        "wechat.wecomservicer": WecomServicer.objects.create(user=agent, userid="w1"),
        "wechat.menureply": MenuReply.objects.create(account=account, key="V1001_ORDERS", reply="订单查询请点击…"),
        "wechat.oapassivereply": OaPassiveReply.objects.create(message=messages[1], account=account, openid="o-1"),
        "reports.export": export,
        "routing.team": (team := Team.objects.create(name="售后")),
        "routing.routingrule": RoutingRule.objects.create(team=team, keywords="退款"),
        "routing.agentstatus": AgentStatus.objects.create(user=agent),
        "routing.businesshours": BusinessHours.objects.create(channel="simulator"),
        "routing.slapolicy": SlaPolicy.objects.create(name="售后", team=team),
        "routing.slabreach": SlaBreach.objects.create(
            conversation=conversation,
            kind=SlaBreach.Kind.FIRST,
            started_at=timezone.now(),
            due_at=timezone.now(),
            breached_at=timezone.now(),
        ),
        "conversations.satisfaction": Satisfaction.objects.create(
            conversation=conversation, channel="simulator", agent=agent, via="message", score=5, comment="很好"
        ),
        "audit.auditlog": AuditLog.objects.order_by("-id").first(),  # type: ignore[dict-item]
        "axes.accessattempt": AccessAttempt.objects.create(
            failures_since_start=1, **_access, get_data="", post_data=""
        ),
        "axes.accesslog": AccessLog.objects.create(**_access),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**_access),
        "auth.user": users["agent-teammate"],
        "auth.group": Group.objects.get(name="agent"),
        "customers.label": Label.objects.create(name="VIP", colour="#e53935"),
        "customers.person": person_for(customer_id=customer.pk),
        # Disabled: an enabled connector would be asked by the spine's shop step.
        "connectors.connector": Connector.objects.create(name="shop", base_url="http://127.0.0.1:9", enabled=False),
        "connectors.lookup": Lookup.objects.create(customer=customer, operation="order", order_no="E1", result="found"),
        "core.apitoken": api_token_create(name="bridge", scopes=["inbound"], created_by_id=None).token,
    }
    return World(users, objects, conversation, message, flags, export)


@pytest.fixture
def world(db: None, settings: Any, tmp_path: Path) -> World:
    settings.REPORTS_EXPORT_ROOT = str(tmp_path / "exports")
    return build_world(tmp_path)
