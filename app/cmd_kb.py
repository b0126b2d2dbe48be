"""`python -m app kb ingest|search|list|delete`: an organization's knowledge passages."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.config import Settings
from app.errors import InputError


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("kb", help="manage the knowledge base")
    actions = parser.add_subparsers(dest="kb_command", required=True)
    ingest = actions.add_parser("ingest", help="add .txt/.md files, one passage per paragraph")
    ingest.add_argument("paths", nargs="+", type=Path)
    search = actions.add_parser("search", help="the passages closest to a question")
    search.add_argument("question")
    search.add_argument("--limit", type=int, default=3)
    actions.add_parser("list", help="every passage of the organization")
    actions.add_parser("delete", help="remove all of the organization's passages")
    for sub in (ingest, search, *actions.choices.values()):
        if not any(a.dest == "org" for a in sub._actions):
            sub.add_argument("--org", required=True, help="organization name")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from app.dialogue import knowledge_dir
    from app.model_loading import load_embeddings
    from knowledge.store import KnowledgeBase, read_passages

    store = KnowledgeBase(load_embeddings(), knowledge_dir(settings))
    if args.kb_command == "ingest":
        passages = []
        for path in args.paths:
            if not path.is_file():
                raise InputError(f"{path}: no such file")
            try:
                passages += read_passages(path)
            except ValueError as error:
                raise InputError(str(error)) from None
        added = store.ingest(args.org, passages)
        print(f"{len(passages)} passages read, {added} new, for {args.org}")
    elif args.kb_command == "search":
        hits = store.search(args.org, args.question, args.limit)
        if not hits:
            print(f"no passages for {args.org}")
        for hit in hits:
            print(f"{hit.score:.3f}  [{hit.source}] {hit.text}")
    elif args.kb_command == "list":
        for hit in store.passages(args.org):
            print(f"[{hit.source}] {hit.text}")
    else:
        store.delete(args.org)
        print(f"deleted the knowledge of {args.org}")
    return 0
