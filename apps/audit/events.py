"""Every event name the audit log records, in one enumeration (zulip's AuditLogEventType).

``audit_record`` refuses any other name, so a free string cannot creep in; a new event is a new
member here. ``AuditLog.event`` stays a plain column (no ``choices``): rows written before a name
was retired keep it, and adding a member needs no migration. Names are "<subject>.<what happened>";
the admin's change log uses "<app_label>.<model>.<add|change|delete>" (``AuditedAdminMixin``).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.TextChoices):
    # Bot exchanges (kind "exchange"): one row per customer message, written with what settles it.
    BOT_ANSWER = "bot.answer", _("Bot answered")
    BOT_BLOCKED = "bot.blocked", _("Bot refused a blocked message")
    BOT_UNREADABLE_IMAGE = "bot.unreadable_image", _("Bot could not read an image")
    BOT_HANDED_OVER = "bot.handed_over", _("Bot left a message to the agents")
    BOT_HUMAN_REQUESTED = "bot.human_requested", _("Customer asked for a human")
    BOT_SUPERSEDED_BY_AGENT = "bot.superseded_by_agent", _("Bot answer dropped: an agent took over")
    BOT_FALLBACK = "bot.fallback", _("Bot gave up: fallback reply sent")
    INBOUND_RATE_LIMITED = "inbound.rate_limited", _("Customer message rate-limited")
    INBOUND_SATISFACTION = "inbound.satisfaction", _("Customer rated the service")
    AGENT_REPLY_FROM_PHONE = "agent.reply_from_phone", _("Staff replied from their phone")

    # Agents and the conversation's mode (ConversationEvent.Kind: f"conversation.{kind}").
    AGENT_REPLY = "agent.reply", _("Agent replied")
    CONVERSATION_REQUESTED_HUMAN = "conversation.requested_human", _("Conversation queued for a human")
    CONVERSATION_TAKEN_OVER = "conversation.taken_over", _("Conversation taken over")
    CONVERSATION_HANDED_BACK = "conversation.handed_back", _("Conversation handed back to the bot")
    CONVERSATION_ASSIGNED = "conversation.assigned", _("Conversation assigned")
    CONVERSATION_AUTO_ASSIGNED = "conversation.auto_assigned", _("Conversation assigned automatically")
    CONVERSATION_REQUEUED = "conversation.requeued", _("Conversation returned to the queue")
    AGENT_AVAILABILITY = "agent.availability", _("Agent availability changed")
    CONVERSATION_SERVED_IN_CHANNEL = "conversation.served_in_channel", _("Conversation served in the channel's app")
    CONVERSATION_CHANNEL_REFUSED = "conversation.channel_refused", _("Channel refused a reply: queued for a human")
    AGENT_REPLY_IN_CHANNEL = "agent.reply_in_channel", _("Staff replied in the channel's own app")
    CONVERSATION_CLOSED = "conversation.closed", _("Conversation closed")
    CONVERSATION_REOPENED = "conversation.reopened", _("Conversation reopened by the customer")
    CONVERSATION_OFF_HOURS = "conversation.off_hours", _("Off hours: conversation left with the bot")

    # Customer profiles (apps.customers): labels, notes, merges of one person's channel identities.
    CUSTOMER_LABEL_ADDED = "customer.label_added", _("Label added to a customer")
    CUSTOMER_LABEL_REMOVED = "customer.label_removed", _("Label removed from a customer")
    CUSTOMER_NOTE_ADDED = "customer.note_added", _("Note added to a customer")
    CUSTOMER_MERGED = "customer.merged", _("Customer profiles merged")
    CUSTOMER_UNMERGED = "customer.unmerged", _("Customer merge undone")
    CUSTOMER_UNIONID_LINKED = "customer.unionid_linked", _("Customer linked by WeChat unionid")
    CONVERSATION_LABEL_ADDED = "conversation.label_added", _("Label added to a conversation")
    CONVERSATION_LABEL_REMOVED = "conversation.label_removed", _("Label removed from a conversation")

    # Moderation review (Flag.Status: f"flag.{status}").
    FLAG_CONFIRMED = "flag.confirmed", _("Moderation flag confirmed")
    FLAG_DISMISSED = "flag.dismissed", _("Moderation flag dismissed")

    # Channels changing how they work on their own (kind "system").
    WECHAT_OA_PASSIVE = "wechat.oa_passive", _("Official Account switched to passive replies")
    MEDIA_PURGED = "media.purged", _("Media past the retention period deleted")

    # Sign-ins, exports.
    STAFF_LOGIN = "staff.login", _("Staff signed in")
    STAFF_LOGIN_FAILED = "staff.login_failed", _("Failed sign-in")
    AUDIT_EXPORT = "audit.export", _("Audit log exported")
    REPORT_EXPORT = "report.export", _("Report export requested")
    REPORT_EXPORT_STREAM = "report.export_stream", _("Messages streamed as CSV")

    # Configuration changed in the admin (AuditedAdminMixin), one triple per audited model.
    CORE_APITOKEN_ADD = "core.apitoken.add", _("API token added")
    CORE_APITOKEN_CHANGE = "core.apitoken.change", _("API token changed")
    CORE_APITOKEN_DELETE = "core.apitoken.delete", _("API token deleted")
    MODERATION_TERM_ADD = "moderation.term.add", _("Blacklist term added")
    MODERATION_TERM_CHANGE = "moderation.term.change", _("Blacklist term changed")
    MODERATION_TERM_DELETE = "moderation.term.delete", _("Blacklist term deleted")
    MODERATION_SEMANTICRULE_ADD = "moderation.semanticrule.add", _("Semantic rule added")
    MODERATION_SEMANTICRULE_CHANGE = "moderation.semanticrule.change", _("Semantic rule changed")
    MODERATION_SEMANTICRULE_DELETE = "moderation.semanticrule.delete", _("Semantic rule deleted")
    MODERATION_ALLOWLISTENTRY_ADD = "moderation.allowlistentry.add", _("Allowlist entry added")
    MODERATION_ALLOWLISTENTRY_CHANGE = "moderation.allowlistentry.change", _("Allowlist entry changed")
    MODERATION_ALLOWLISTENTRY_DELETE = "moderation.allowlistentry.delete", _("Allowlist entry deleted")
    MODERATION_CONTENTCATEGORY_ADD = "moderation.contentcategory.add", _("Moderation category added")
    MODERATION_CONTENTCATEGORY_CHANGE = "moderation.contentcategory.change", _("Moderation category changed")
    MODERATION_CONTENTCATEGORY_DELETE = "moderation.contentcategory.delete", _("Moderation category deleted")
    LLM_ENDPOINT_ADD = "llm.endpoint.add", _("LLM endpoint added")
    LLM_ENDPOINT_CHANGE = "llm.endpoint.change", _("LLM endpoint changed")
    LLM_ENDPOINT_DELETE = "llm.endpoint.delete", _("LLM endpoint deleted")
    LLM_PROMPTSETTINGS_ADD = "llm.promptsettings.add", _("Prompt settings added")
    LLM_PROMPTSETTINGS_CHANGE = "llm.promptsettings.change", _("Prompt settings changed")
    LLM_PROMPTSETTINGS_DELETE = "llm.promptsettings.delete", _("Prompt settings deleted")
    KNOWLEDGE_ENTRY_ADD = "knowledge.entry.add", _("Knowledge entry added")
    KNOWLEDGE_ENTRY_CHANGE = "knowledge.entry.change", _("Knowledge entry changed")
    KNOWLEDGE_ENTRY_DELETE = "knowledge.entry.delete", _("Knowledge entry deleted")
    KNOWLEDGE_HUMANREQUESTEXAMPLE_ADD = "knowledge.humanrequestexample.add", _("Example of asking for a person added")
    KNOWLEDGE_HUMANREQUESTEXAMPLE_CHANGE = (
        "knowledge.humanrequestexample.change",
        _("Example of asking for a person changed"),
    )
    KNOWLEDGE_HUMANREQUESTEXAMPLE_DELETE = (
        "knowledge.humanrequestexample.delete",
        _("Example of asking for a person deleted"),
    )
    WECHAT_WECHATACCOUNT_ADD = "wechat.wechataccount.add", _("WeChat account added")
    WECHAT_WECHATACCOUNT_CHANGE = "wechat.wechataccount.change", _("WeChat account changed")
    WECHAT_WECHATACCOUNT_DELETE = "wechat.wechataccount.delete", _("WeChat account deleted")
    WECHAT_WECOMSERVICER_ADD = "wechat.wecomservicer.add", _("WeCom servicer added")
    WECHAT_WECOMSERVICER_CHANGE = "wechat.wecomservicer.change", _("WeCom servicer changed")
    WECHAT_WECOMSERVICER_DELETE = "wechat.wecomservicer.delete", _("WeCom servicer deleted")
    WECHAT_MENUREPLY_ADD = "wechat.menureply.add", _("Menu reply added")
    WECHAT_MENUREPLY_CHANGE = "wechat.menureply.change", _("Menu reply changed")
    WECHAT_MENUREPLY_DELETE = "wechat.menureply.delete", _("Menu reply deleted")
    ROUTING_TEAM_ADD = "routing.team.add", _("Team added")
    ROUTING_TEAM_CHANGE = "routing.team.change", _("Team changed")
    ROUTING_TEAM_DELETE = "routing.team.delete", _("Team deleted")
    ROUTING_ROUTINGRULE_ADD = "routing.routingrule.add", _("Routing rule added")
    ROUTING_ROUTINGRULE_CHANGE = "routing.routingrule.change", _("Routing rule changed")
    ROUTING_ROUTINGRULE_DELETE = "routing.routingrule.delete", _("Routing rule deleted")
    ROUTING_AGENTSTATUS_ADD = "routing.agentstatus.add", _("Agent availability added")
    ROUTING_AGENTSTATUS_CHANGE = "routing.agentstatus.change", _("Agent availability changed in the admin")
    ROUTING_AGENTSTATUS_DELETE = "routing.agentstatus.delete", _("Agent availability deleted")
    ROUTING_BUSINESSHOURS_ADD = "routing.businesshours.add", _("Business hours added")
    ROUTING_BUSINESSHOURS_CHANGE = "routing.businesshours.change", _("Business hours changed")
    ROUTING_BUSINESSHOURS_DELETE = "routing.businesshours.delete", _("Business hours deleted")
    ROUTING_SLAPOLICY_ADD = "routing.slapolicy.add", _("SLA policy added")
    ROUTING_SLAPOLICY_CHANGE = "routing.slapolicy.change", _("SLA policy changed")
    ROUTING_SLAPOLICY_DELETE = "routing.slapolicy.delete", _("SLA policy deleted")
    CONSOLE_CANNEDRESPONSE_ADD = "console.cannedresponse.add", _("Canned response added")
    CONSOLE_CANNEDRESPONSE_CHANGE = "console.cannedresponse.change", _("Canned response changed")
    CONSOLE_CANNEDRESPONSE_DELETE = "console.cannedresponse.delete", _("Canned response deleted")
    CUSTOMERS_LABEL_ADD = "customers.label.add", _("Label added")
    CUSTOMERS_LABEL_CHANGE = "customers.label.change", _("Label changed")
    CUSTOMERS_LABEL_DELETE = "customers.label.delete", _("Label deleted")
    CONNECTORS_CONNECTOR_ADD = "connectors.connector.add", _("Shop connector added")
    CONNECTORS_CONNECTOR_CHANGE = "connectors.connector.change", _("Shop connector changed")
    CONNECTORS_CONNECTOR_DELETE = "connectors.connector.delete", _("Shop connector deleted")
    # The agent profile's WeCom userid, before it moved to wechat.WecomServicer; older rows keep these.
    CONSOLE_AGENTPROFILE_ADD = "console.agentprofile.add", _("Agent profile added")
    CONSOLE_AGENTPROFILE_CHANGE = "console.agentprofile.change", _("Agent profile changed")
    CONSOLE_AGENTPROFILE_DELETE = "console.agentprofile.delete", _("Agent profile deleted")


def audit_event(name: str) -> AuditEvent:
    """The member named ``name``; ValueError for a name that is not an audit event."""
    try:
        return AuditEvent(name)
    except ValueError:
        raise ValueError(f"{name!r} is not an audit event; add it to apps.audit.events.AuditEvent") from None


def admin_event(model: type[models.Model], action: str) -> AuditEvent:
    """The event of an admin change log entry: ``action`` is add, change or delete."""
    return audit_event(f"{model._meta.label_lower}.{action}")
