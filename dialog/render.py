"""Filling the agents' lines from a contact and its context.

Details about the customer are only available to a line once the caller has been
verified: before that, a line can name the organization and the contact, nothing else.
"""

from __future__ import annotations

import string
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialog.agent import ConversationSetup
from dialog.dates import speak_date, speak_full_date, speak_money, speak_time

PUBLIC_FIELDS = frozenset({"organization", "name"})


class MissingContextError(ValueError):
    """The contact or context lacks a field the agent needs."""


def contact_zone(setup: ConversationSetup) -> ZoneInfo | None:
    name = setup.contact.get("timezone")
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise MissingContextError(f"contact.timezone: unknown time zone '{name}'") from None


def local_datetime(value: Any, setup: ConversationSetup) -> datetime:
    """An ISO datetime from the context, in the contact's time zone."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise MissingContextError(f"not an ISO date and time: '{value}'") from None
    zone = contact_zone(setup)
    if when.tzinfo is None:
        return when.replace(tzinfo=zone) if zone else when
    return when.astimezone(zone) if zone else when


def _date(value: Any) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MissingContextError(f"not an ISO date: '{value}'") from None


def lookup(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def render_fields(setup: ConversationSetup) -> dict[str, str]:
    """Every field an agent line may use, as the agent says it."""
    context, contact = setup.context, setup.contact
    fields = {"organization": str(context.get("organization") or "our office"),
              "name": str(contact.get("name") or "the account holder")}
    appointment = context.get("appointment") or {}
    if appointment.get("start"):
        start = local_datetime(appointment["start"], setup)
        fields |= {"appointment_day": speak_date(start), "appointment_time": speak_time(start)}
    fields |= {"provider": str(appointment.get("provider") or ""),
               "location": str(appointment.get("location") or ""),
               "instructions": str(appointment.get("instructions") or "")}
    policy = context.get("policy") or {}
    symbol = str(context.get("currency_symbol") or "$")
    if policy.get("expires"):
        fields["policy_expires"] = speak_full_date(_date(policy["expires"]))
    fields |= {"policy_type": str(policy.get("type") or ""),
               "policy_number": str(policy.get("number") or ""),
               "renewal_premium": speak_money(policy.get("renewal_premium"), symbol),
               "current_premium": speak_money(policy.get("current_premium"), symbol)}
    if context.get("opened"):
        fields["opened_date"] = speak_full_date(_date(context["opened"]))
    fields |= {"product": str(context.get("product") or "account"),
               "card_last4": str(context.get("card_last4") or "")}
    return fields


def fill(template: str, fields: dict[str, str], *, verified: bool) -> str:
    """``template`` with its fields; a customer detail before verification is a bug."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not verified and names - PUBLIC_FIELDS - {"when", "utterance"}:
        raise PermissionError(f"line uses {sorted(names - PUBLIC_FIELDS)} before verification")
    missing = names - fields.keys()
    if missing:
        raise MissingContextError(f"no value for {sorted(missing)} in: {template}")
    return template.format(**{name: fields[name] for name in names})
