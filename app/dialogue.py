"""Wiring of the dialogue layer: the state tracker, the knowledge base, the domain agents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings
from app.model_loading import load_embeddings
from app.models import EMBEDDINGS
from app.slm_prepare import prepare_tracker, tracker_cache_entry
from dialog.batching import BatchingTracker
from dialog.catalog import common_lines, install_agents, load_flows
from dialog.engine import KnowledgeSource, Services
from dialog.polarity import PolarityAssist
from dialog.router import DEFAULT_ROUTER, Router
from dialog.tracker import CombinedTracker, EmbeddingTracker, IntentTracker, SlmTracker
from dialog.tracker_data import contexts
from knowledge.store import KnowledgeBase

TRACKERS = ("slm", "slm-only", "embedding")
INFERENCE_THREADS = 1  # routing: one request at a time; a second thread costs more than it saves


@dataclass
class DialogueStack:
    services: Services
    knowledge: KnowledgeBase
    agents: list[str]


def knowledge_dir(settings: Settings) -> Path:
    return settings.data_dir / "knowledge"


def load_tracker(settings: Settings, kind: str = "slm", embedder: Any = None) -> IntentTracker:
    """``slm``: the context-tracking SLM with the embedding prior (what agents use);
    ``slm-only``: the SLM alone; ``embedding``: the non-SLM baseline alone. Agents' trackers
    also read bare yes/no answers with a parser (``dialog.polarity``)."""
    if kind == "slm":
        embedder = embedder or load_embeddings()
        return PolarityAssist(CombinedTracker(load_tracker(settings, "slm-only"),
                                              load_tracker(settings, "embedding", embedder)))
    if kind == "embedding":
        flows, lines = load_flows(), common_lines()
        examples: dict[str, list[str]] = {}
        for context in contexts(flows, lines):
            for label, texts in context.examples.items():
                examples.setdefault(label, []).extend(texts)
        for label, intent in lines.global_intents.items():
            examples.setdefault(label, []).extend(intent.examples)
        return EmbeddingTracker(embedder or load_embeddings(), examples, settings.cache_dir)
    entry = tracker_cache_entry(settings.cache_dir)
    if not entry.ready:
        entry = prepare_tracker(settings.cache_dir)
    return SlmTracker(entry.model_dir, compute_type=settings.tracker_compute_type)


def load_dialogue(settings: Settings, *, tracker: str = "slm",
                  knowledge: KnowledgeSource | None = None,
                  batching: bool = False) -> DialogueStack:
    """Load the tracker and knowledge base and register every domain agent. ``batching``:
    concurrent conversations' tracking requests share batches (a server's choice)."""
    embedder = load_embeddings()
    store = KnowledgeBase(embedder, knowledge_dir(settings))
    loaded = load_tracker(settings, tracker, embedder)
    services = Services(BatchingTracker(loaded) if batching else loaded, knowledge or store)
    return DialogueStack(services, store, install_agents(services))


def load_router(settings: Settings, folder: Path = DEFAULT_ROUTER) -> Router:
    """A request router (the shipped router of the sample organizations by default)."""
    return Router.load(folder, EMBEDDINGS.locate(), settings.cache_dir, INFERENCE_THREADS)
