"""Attempts per hour, as the dashboard charts them, counted by SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.campaigns.activity import attempts_per_hour, hour_starts
from app.campaigns.store import call_attempts
from app.db import open_engine
from tests.dashboard_data import BUSY, NO_ANSWER, VOICEMAIL, dial, running_campaign

NOW = datetime(2026, 3, 8, 14, 20, tzinfo=UTC)


def test_hours_run_from_the_start_or_the_last_day_whichever_is_later() -> None:
    assert hour_starts(NOW - timedelta(minutes=5), NOW) == [NOW.replace(minute=0)]
    assert hour_starts(NOW - timedelta(minutes=30), NOW) == [
        datetime(2026, 3, 8, 13, tzinfo=UTC), datetime(2026, 3, 8, 14, tzinfo=UTC)]
    day = hour_starts(NOW - timedelta(days=3), NOW)
    assert len(day) == 24
    assert day[0] == datetime(2026, 3, 7, 15, tzinfo=UTC) and day[-1] == NOW.replace(minute=0)


async def test_attempts_fall_in_the_hour_they_ended(database_url: str) -> None:
    engine = await open_engine(database_url)
    try:
        campaign = await running_campaign(engine, "Hours", contacts=6)
        await dial(engine, campaign, [BUSY, NO_ANSWER, VOICEMAIL, BUSY, NO_ANSWER, VOICEMAIL])
        ended = [NOW - timedelta(minutes=1), NOW.replace(minute=0),  # this hour, both
                 NOW.replace(minute=0) - timedelta(microseconds=1),  # the hour before
                 NOW - timedelta(hours=5), NOW - timedelta(hours=30),  # too old to show
                 NOW + timedelta(hours=1)]  # a clock ahead: after now, not shown
        async with engine.begin() as conn:
            contact_ids = (await conn.execute(
                select(call_attempts.c.contact_id).where(call_attempts.c.campaign_id == campaign.id)
                .order_by(call_attempts.c.contact_id))).scalars().all()
            for contact_id, at in zip(contact_ids, ended, strict=True):
                await conn.execute(update(call_attempts)
                                   .where(call_attempts.c.campaign_id == campaign.id,
                                          call_attempts.c.contact_id == contact_id)
                                   .values(ended_at=at))
        hours = await attempts_per_hour(engine, campaign.id, NOW - timedelta(days=2), NOW)
        by_hour = {hour.start: hour.attempts for hour in hours if hour.attempts}
        assert len(hours) == 24
        assert by_hour == {NOW.replace(minute=0): 2,
                           NOW.replace(minute=0) - timedelta(hours=1): 1,
                           NOW.replace(minute=0) - timedelta(hours=5): 1}
        since_start = await attempts_per_hour(engine, campaign.id, NOW - timedelta(minutes=10),
                                              NOW)
        assert [(h.start, h.attempts) for h in since_start] == [(NOW.replace(minute=0), 2)]
    finally:
        await engine.dispose()
