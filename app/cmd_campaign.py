"""`python -m app campaign create|start|run|pause|resume|status|list|export`.

``create`` checks the whole contact list before storing anything (``--strict``: refuse it
if any row is refused). ``start`` and ``resume`` move the campaign and, unless
``--no-wait``, run a dialer in the foreground until it is done; ``run`` adds a dialer to
campaigns already running (several may run at once, on one or several machines).
SIGINT or SIGTERM stops a dialer gracefully: no new calls, the calls under way finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from app.campaigns.carrier import load_carrier
from app.campaigns.contacts_csv import ContactList, read_contacts, write_rejections
from app.campaigns.dialer import CampaignDialer, DialerConfig
from app.campaigns.do_not_call import DoNotCallList
from app.campaigns.durations import format_duration, parse_duration, parse_retry_delays
from app.campaigns.export import campaign_summary, export_records, write_csv, write_json
from app.campaigns.phones import check_region
from app.campaigns.policy import AttemptPolicy, CallingWindow, CampaignOptions
from app.campaigns.progress import CampaignProgress, breakdown
from app.campaigns.store import Campaign, CampaignStateError, CampaignStore
from app.config import Settings
from app.db import open_database
from app.errors import InputError

REASONS_SHOWN = 5
T = TypeVar("T")
Handler = Callable[[argparse.Namespace, Settings, CampaignStore], Awaitable[int]]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("campaign", help="outbound calling campaigns")
    actions = parser.add_subparsers(dest="campaign_command", required=True)
    _add_create(actions)
    for move in ("start", "resume"):
        sub = actions.add_parser(move, help=f"{move} a campaign and dial until it is done")
        sub.add_argument("id")
        sub.add_argument("--no-wait", action="store_true",
                         help="only mark it running; `campaign run` dials")
        _add_dialer_options(sub)
    worker = actions.add_parser("run", help="a dialer for running campaigns (status unchanged)")
    worker.add_argument("ids", nargs="*", metavar="ID", help="default: every running campaign")
    worker.add_argument("--until-done", action="store_true",
                        help="exit once none of the campaigns is running")
    _add_dialer_options(worker)
    actions.add_parser("pause", help="no new calls until resumed").add_argument("id")
    status = actions.add_parser("status", help="window, policy, progress and outcomes")
    status.add_argument("id")
    status.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="every campaign and its progress")
    listing.add_argument("--json", action="store_true")
    export = actions.add_parser("export", help="every contact's result (no names or birth dates)")
    export.add_argument("id")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", type=Path, help="default: standard output")
    parser.set_defaults(handler=run)


def _add_create(actions: argparse._SubParsersAction) -> None:
    create = actions.add_parser("create", help="a draft campaign from a contact list")
    create.add_argument("--agent", required=True, help="the flow agent that holds the calls")
    create.add_argument("--contacts", required=True, type=Path, metavar="FILE.csv")
    create.add_argument("--name", help="default: the contact file's name")
    create.add_argument("--window", default="08:00-21:00", help="local hours, HH:MM-HH:MM")
    create.add_argument("--days", default="mon-sun", help="mon-fri, or mon,wed,sat")
    create.add_argument("--max-concurrent", type=int, default=4, help="calls at once")
    create.add_argument("--max-attempts", type=int, default=3)
    create.add_argument("--retry", default="", metavar="RESULT=DURATION,...",
                        help="e.g. no_answer=2h,busy=30m,voicemail=1d,failed=1h")
    create.add_argument("--min-gap", default="4h", help="least time between two dials to one "
                                                        "contact")
    create.add_argument("--webhook", metavar="URL", help="POST signed outcome events here")
    create.add_argument("--rejects", type=Path, metavar="REPORT.csv",
                        help="write the refused rows' line and reason here")
    create.add_argument("--region", help="country (US, GB) of numbers written without +")
    create.add_argument("--strict", action="store_true", help="refuse the list if any row is")
    create.add_argument("--json", action="store_true")


def _add_dialer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--carrier", default="sip", help="sip, or package.module:Class")
    parser.add_argument("--max-calls", type=int, default=8, help="calls at once, this dialer")
    parser.add_argument("--lease-s", type=float, default=60.0,
                        help="seconds before another dialer may close a silent call")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_main(args, settings))


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    engine = await open_database(settings.database_url, settings.data_dir)
    try:
        return await _HANDLERS[args.campaign_command](args, settings, CampaignStore(engine))
    finally:
        await engine.dispose()


async def _create(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    options = _options(args)
    region = check_region(args.region)
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        raise InputError(f"--webhook '{args.webhook[:60]}': expected an http(s) URL")
    if not args.contacts.is_file():
        raise InputError(f"{args.contacts}: no such file")
    found = await asyncio.to_thread(read_contacts, args.contacts, args.agent, region)
    if args.rejects:
        await asyncio.to_thread(write_rejections, args.rejects, found.rejected)
    _report_rejections(found)
    if found.rejected and args.strict:
        raise InputError(f"{len(found.rejected)} rows refused: nothing imported (--strict)")
    if not found.accepted:
        raise InputError(f"{args.contacts}: no contact to import")
    listed = await DoNotCallList(store.engine).numbers()
    campaign, secret = await store.create(
        (args.name or args.contacts.stem)[:100], args.agent, options, found.accepted,
        args.webhook, listed)
    blocked = sum(contact.phone in listed for contact in found.accepted)
    if args.json:
        print(json.dumps({"id": campaign.id, "imported": len(found.accepted),
                          "rejected": len(found.rejected), "do_not_call": blocked,
                          "webhook_secret": secret}))
        return 0
    print(f"campaign {campaign.id} created ({campaign.status}): {len(found.accepted)} contacts "
          f"imported, {len(found.rejected)} rows refused, {blocked} on the do-not-call list")
    if campaign.webhook_url:
        print(f"webhook signing secret: {secret}")
    print(f"start it with: python -m app campaign start {campaign.id}")
    return 0


def _options(args: argparse.Namespace) -> CampaignOptions:
    window = _checked("--window/--days", lambda: CallingWindow.parse(args.window, args.days))
    retry = _checked("--retry", lambda: parse_retry_delays(args.retry))
    min_gap = _checked("--min-gap", lambda: parse_duration(args.min_gap))
    attempts = _checked("--max-attempts", lambda: AttemptPolicy(
        max_attempts=args.max_attempts, retry_delay_s={**AttemptPolicy().retry_delay_s, **retry},
        min_gap_s=min_gap))
    return _checked("--max-concurrent", lambda: CampaignOptions(
        window=window, attempts=attempts, max_concurrent=args.max_concurrent))


def _checked(option: str, make: Callable[[], T]) -> T:
    """``make()``, its ``ValueError`` (pydantic's too) as one line naming ``option``."""
    try:
        return make()
    except ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
    except ValueError as error:
        message = str(error)
    raise InputError(f"{option}: {message}")


def _report_rejections(found: ContactList) -> None:
    """The first few reasons on stderr: the operator's console, never a log."""
    if not found.rejected:
        return
    print(f"{len(found.rejected)} rows refused:", file=sys.stderr)
    for rejection in found.rejected[:REASONS_SHOWN]:
        print(f"  line {rejection.line}: {rejection.reason}", file=sys.stderr)
    if len(found.rejected) > REASONS_SHOWN:
        print(f"  ... and {len(found.rejected) - REASONS_SHOWN} more (--rejects FILE lists "
              "them all)", file=sys.stderr)


async def _start(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    return await _move_and_dial(args, settings, store, "start")


async def _resume(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    return await _move_and_dial(args, settings, store, "resume")


async def _move_and_dial(args: argparse.Namespace, settings: Settings, store: CampaignStore,
                         move: Literal["start", "resume"]) -> int:
    try:
        campaign = await store.move(args.id, move)
    except CampaignStateError as error:
        hint = (f"; `campaign run {args.id}` adds a dialer to it"
                if (await store.get(args.id)).status == "running" else "")
        raise InputError(f"{error}{hint}") from None
    print(f"campaign {campaign.id} is running")
    if args.no_wait:
        return 0
    return await _dial(args, settings, store, (campaign.id,), until_done=True)


async def _run(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    for campaign_id in args.ids:
        await store.get(campaign_id)  # an unknown id is an error, not an idle dialer
    return await _dial(args, settings, store, tuple(args.ids), until_done=args.until_done)


async def _dial(args: argparse.Namespace, settings: Settings, store: CampaignStore,
                campaign_ids: tuple[str, ...], until_done: bool) -> int:
    if args.max_calls < 1 or args.lease_s <= 0:
        raise InputError("--max-calls must be at least 1 and --lease-s above 0")
    config = DialerConfig(max_calls=args.max_calls, lease_s=args.lease_s,
                          until_done=until_done, campaign_ids=campaign_ids)
    async with load_carrier(args.carrier, settings) as carrier:
        progress = CampaignProgress(store, campaign_ids)
        dialer = CampaignDialer(store, carrier, config, on_call=progress.on_call)
        async with progress:
            with _stop_on_signals(dialer):
                await dialer.run()
    calls = " ".join(f"{name}={n}" for name, n in sorted(progress.results.items()))
    print(f"dialer {dialer.id} stopped after {progress.results.total()} calls {calls}".rstrip())
    for campaign_id in campaign_ids:
        campaign = await store.get(campaign_id)
        hint = (f": `python -m app campaign run {campaign.id}` dials on"
                if campaign.status == "running" else "")
        print(f"campaign {campaign.id} is {campaign.status}{hint}")
    return 0


@contextlib.contextmanager
def _stop_on_signals(dialer: CampaignDialer) -> Iterator[None]:
    """The first SIGINT/SIGTERM stops new calls and lets those under way finish; a second
    one ends the process (the leases of its calls then lapse and another dialer closes
    them as interrupted)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def stop(name: str) -> None:
        print(f"\n{name}: no new calls; waiting for the calls under way (again to abandon "
              "them)", file=sys.stderr, flush=True)
        dialer.stop()
        for number in signals:
            loop.remove_signal_handler(number)

    for number in signals:
        loop.add_signal_handler(number, stop, number.name)
    try:
        yield
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


async def _pause(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    campaign = await store.move(args.id, "pause")
    print(f"campaign {campaign.id} is paused: calls under way finish, no new ones start")
    return 0


async def _status(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    campaign = await store.get(args.id)
    counts, results, outcomes = (await store.counts(campaign.id), await store.results(campaign.id),
                                 await store.outcomes(campaign.id))
    if args.json:
        print(json.dumps({**campaign_summary(campaign), "contacts": sum(counts.values()),
                          "counts": counts, "results": results, "outcomes": outcomes}, indent=1))
        return 0
    policy = campaign.options.attempts
    delays = ", ".join(f"{result} {format_duration(delay)}"
                       for result, delay in policy.retry_delay_s.items())
    print(f"campaign {campaign.id} '{campaign.name}' ({campaign.agent}): {campaign.status}")
    print(f"  window:   {campaign.options.window.describe()} in each contact's time zone")
    print(f"  attempts: at most {policy.max_attempts}; retry after {delays}; at least "
          f"{format_duration(policy.min_gap_s)} between two dials")
    print(f"  calls at once: {campaign.options.max_concurrent}")
    print(f"  contacts: {sum(counts.values())}: {_pairs(counts)}")
    print(f"  dials by result: {_pairs(results) or 'none yet'}")
    print(f"  outcomes: {_pairs(outcomes) or 'none yet'}")
    return 0


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


async def _list(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    rows = []
    for campaign in await store.all():
        counts = await store.counts(campaign.id)
        rows.append((campaign, counts, await store.outcomes(campaign.id)))
    if args.json:
        print(json.dumps([{**campaign_summary(c), "contacts": sum(counts.values()),
                           "counts": counts} for c, counts, _ in rows], indent=1))
        return 0
    if not rows:
        print("no campaigns yet: python -m app campaign create --agent NAME --contacts FILE.csv")
    for campaign, counts, outcomes in rows:
        total = sum(counts.values())
        done = total - counts.get("pending", 0) - counts.get("dialing", 0)
        print(f"{campaign.id}  {campaign.status:<9} {done}/{total} done  {campaign.agent}  "
              f"'{campaign.name}'  {breakdown(counts, outcomes)}".rstrip())
    return 0


async def _export(args: argparse.Namespace, settings: Settings, store: CampaignStore) -> int:
    campaign = await store.get(args.id)
    records = await export_records(store, campaign.id)
    await asyncio.to_thread(_write_export, campaign, records, args.format, args.out)
    if args.out:
        print(f"{len(records)} contacts written to {args.out}", file=sys.stderr)
    return 0


def _write_export(campaign: Campaign, records: list[dict[str, Any]], fmt: str,
                  out: Path | None) -> None:
    with (out.open("w", encoding="utf-8", newline="") if out
          else contextlib.nullcontext(sys.stdout)) as file:
        if fmt == "csv":
            write_csv(records, file)
        else:
            write_json(campaign, records, file)


_HANDLERS: dict[str, Handler] = {
    "create": _create, "start": _start, "resume": _resume, "run": _run, "pause": _pause,
    "status": _status, "list": _list, "export": _export,
}
