"""The audit trail of one object, shown on its admin History page (templates/admin/)."""

from auditlog.models import LogEntry
from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

register = template.Library()

SHOWN = 200


@register.inclusion_tag("admin/audit/object_audit.html")
def audit_history(obj):
    content_type = ContentType.objects.get_for_model(obj)
    entries = LogEntry.objects.filter(
        content_type=content_type, object_pk=str(obj.pk)
    ).select_related("actor")
    return {
        "entries": entries[:SHOWN],
        "list_url": reverse("admin:auditlog_logentry_changelist")
        + f"?content_type={content_type.pk}&object_pk={obj.pk}",
    }


@register.filter
def audit_actor(entry) -> str:
    if entry.actor_id is not None:
        return entry.actor.get_username()
    return entry.actor_email or "system"
