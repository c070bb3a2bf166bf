"""Make audit_auditlog append-only in the database itself, whatever the application does.

UPDATE and DELETE raise. The one exception is key rotation (manage.py rotate_keys): with
``SET LOCAL desk.audit_rekey = 'on'`` the encrypted columns may be rewritten, and only those.
The HMAC chain is computed over the plaintext, so re-encryption leaves it intact.
"""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION audit_auditlog_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('desk.audit_rekey', true) = 'on'
       AND (NEW.id, NEW.created_at, NEW.kind, NEW.event, NEW.actor_id, NEW.customer_ref, NEW.channel,
            NEW.conversation_id_ref, NEW.message_id_ref, NEW.model, NEW.endpoint, NEW.latency_ms,
            NEW.client_ip, NEW.details, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.created_at, OLD.kind, OLD.event, OLD.actor_id, OLD.customer_ref, OLD.channel,
            OLD.conversation_id_ref, OLD.message_id_ref, OLD.model, OLD.endpoint, OLD.latency_ms,
            OLD.client_ip, OLD.details, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_auditlog is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_auditlog_append_only
    BEFORE UPDATE OR DELETE ON audit_auditlog
    FOR EACH ROW EXECUTE FUNCTION audit_auditlog_guard();
"""

UNGUARD = """
DROP TRIGGER IF EXISTS audit_auditlog_append_only ON audit_auditlog;
DROP FUNCTION IF EXISTS audit_auditlog_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(GUARD, UNGUARD)]
