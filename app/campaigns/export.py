"""A campaign's results, one record per imported contact, as CSV or JSON.

The export says what happened to each number (state, final status, the agent's outcome,
each dial), not who the person is: the name, date of birth and the agent's context stay in
the database. ``external_id`` (the client's own key for the row) is kept so the client can
join the results back to its records.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime
from typing import Any, TextIO

from app.campaigns.store import Campaign, CampaignStore

CSV_COLUMNS = ("line", "phone", "external_id", "timezone", "state", "final_status", "outcome",
               "attempts", "last_result", "last_dialed_at")
CALL_FIELDS = ("attempt", "result", "outcome", "claimed_at", "dialed_at", "ended_at",
               "conversation_id", "detail")


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def export_records(store: CampaignStore, campaign_id: str) -> list[dict[str, Any]]:
    """Every contact of the campaign in import order, each with its ``calls``."""
    calls: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await store.attempts(campaign_id):
        calls[row.contact_id].append({name: _value(getattr(row, name)) for name in CALL_FIELDS})
    records = []
    for row in await store.contacts(campaign_id):
        record = {name: _value(getattr(row, name, None)) for name in CSV_COLUMNS}
        record["external_id"] = row.contact.get("external_id")
        record["calls"] = calls.get(row.id, [])
        records.append(record)
    return records


def write_csv(records: list[dict[str, Any]], out: TextIO) -> None:
    """One row per contact; the calls are in the JSON export only."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)


def write_json(campaign: Campaign, records: list[dict[str, Any]], out: TextIO) -> None:
    document = {"campaign": campaign_summary(campaign), "contacts": records}
    json.dump(document, out, indent=1, ensure_ascii=False)
    out.write("\n")


def campaign_summary(campaign: Campaign) -> dict[str, Any]:
    """The campaign's own fields, as JSON values (its webhook secret is not one of them)."""
    return {"id": campaign.id, "name": campaign.name, "agent": campaign.agent,
            "status": campaign.status, "created_at": _value(campaign.created_at),
            "completed_at": _value(campaign.completed_at),
            "webhook_url": campaign.webhook_url,
            "options": campaign.options.model_dump(mode="json")}
