"""`python -m app dnc import FILE | add NUMBER... | remove NUMBER... | list`.

The do-not-call list every campaign honours: the dialer checks it right before each dial,
so a number added here mid-campaign is never called again. Numbers are stored in E.164 with
the same normalisation as contact lists, so ``(212) 555-0143 --region US`` matches
``+12125550143``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
from collections.abc import Iterable
from pathlib import Path

from app.campaigns.contacts_csv import Rejection, write_rejections
from app.campaigns.do_not_call import DoNotCallList
from app.campaigns.phones import check_region, normalize_phone
from app.config import Settings
from app.db import open_database
from app.errors import InputError

REASONS_SHOWN = 5


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("dnc", help="the do-not-call list")
    actions = parser.add_subparsers(dest="dnc_command", required=True)
    load = actions.add_parser("import", help="numbers from a file: one a line, or a CSV "
                                             "with a phone column")
    load.add_argument("file", type=Path)
    load.add_argument("--rejects", type=Path, metavar="REPORT.csv",
                      help="write the refused lines and reasons here")
    add = actions.add_parser("add", help="put numbers on the list")
    add.add_argument("numbers", nargs="+", metavar="NUMBER")
    remove = actions.add_parser("remove", help="take numbers off the list")
    remove.add_argument("numbers", nargs="+", metavar="NUMBER")
    for sub in (load, add, remove):
        sub.add_argument("--region", help="country (US, GB) of numbers written without +")
    listing = actions.add_parser("list", help="every number, its source and when it was added")
    listing.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_main(args, settings))


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    engine = await open_database(settings.database_url, settings.data_dir)
    listed = DoNotCallList(engine)
    try:
        if args.dnc_command == "import":
            return await _import(args, listed)
        if args.dnc_command == "list":
            return await _list(args, listed)
        numbers = _numbers(args.numbers, check_region(args.region))
        if args.dnc_command == "add":
            print(f"{await listed.add(numbers, 'manual')} added, "
                  f"{len(set(numbers))} given")
        else:
            print(f"{await listed.remove(numbers)} removed, {len(set(numbers))} given")
        return 0
    finally:
        await engine.dispose()


def _numbers(written: Iterable[str], region: str | None) -> list[str]:
    """Every number from the command line, or an ``InputError`` for the first bad one:
    a typo must not silently leave a number off the list."""
    try:
        return [normalize_phone(text, region) for text in written]
    except ValueError as error:
        raise InputError(str(error)) from None


async def _import(args: argparse.Namespace, listed: DoNotCallList) -> int:
    if not args.file.is_file():
        raise InputError(f"{args.file}: no such file")
    region = check_region(args.region)
    numbers, rejected = await asyncio.to_thread(read_number_list, args.file, region)
    if args.rejects:
        await asyncio.to_thread(write_rejections, args.rejects, rejected)
    added = await listed.add(numbers, "import")
    print(f"{len(numbers)} numbers read, {added} new on the list, {len(rejected)} lines refused")
    for rejection in rejected[:REASONS_SHOWN]:
        print(f"  line {rejection.line}: {rejection.reason}")
    return 0


def read_number_list(path: Path, region: str | None) -> tuple[list[str], list[Rejection]]:
    """E.164 numbers from ``path``: a CSV whose header has a ``phone`` column, or one
    number a line (blank lines and ``#`` comments skipped). Bad lines come back refused."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.reader(file))
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except csv.Error as error:
        raise InputError(f"{path}: {error}") from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    column, first = (header.index("phone"), 1) if "phone" in header else (None, 0)
    numbers, rejected = [], []
    for line, cells in enumerate(rows[first:], start=first + 1):
        text = ",".join(cells) if column is None else (cells[column] if column < len(cells)
                                                        else "")
        if not text.strip() or (column is None and text.lstrip().startswith("#")):
            continue
        try:
            numbers.append(normalize_phone(text, region))
        except ValueError as error:
            rejected.append(Rejection(line, str(error)))
    return numbers, rejected


async def _list(args: argparse.Namespace, listed: DoNotCallList) -> int:
    entries = await listed.entries()
    if args.json:
        print(json.dumps([{"phone": phone, "source": source, "added_at": added.isoformat()}
                          for phone, source, added in entries], indent=1))
        return 0
    for phone, source, added in entries:
        print(f"{phone}  {source:<8} {added:%Y-%m-%d %H:%M}")
    if not entries:
        print("the do-not-call list is empty")
    return 0
