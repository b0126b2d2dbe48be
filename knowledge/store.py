"""The knowledge base: each organization's passages in chromadb, searched by meaning.

Embeddings come from the project's MiniLM (computed here, never by chromadb, which would
otherwise fetch its own model); chromadb's telemetry is off. One collection per
organization, so one organization's passages never answer another's callers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embeddings import SentenceEmbedder

# Cosine similarity. A passage this close answers on its own; one down to CLEAR_THRESHOLD
# answers when it stands CLEAR_MARGIN above the next passage (or above NO_RIVAL, when the
# organization has one passage). Unrelated questions score below about 0.35, and when they
# come close it is to two or three passages at once ("when is my sister's appointment?":
# the opening hours at 0.35, prescriptions at 0.35).
ANSWER_THRESHOLD = 0.45
CLEAR_THRESHOLD = 0.33
CLEAR_MARGIN = 0.1
NO_RIVAL = 0.2
# How much what the agent just said (``context``) weighs in a search: "why has it gone up
# so much?" is about the renewal premium the agent just named, which the caller's words
# leave out.
CONTEXT_WEIGHT = 0.2
# ... and more when the question points back at it ("how do I activate it?", "why'd it go
# up so much?"): its own words then name nothing the passages could match.
POINTING_CONTEXT_WEIGHT = 0.35
_POINTING = re.compile(r"\b(?:it|its|that|this|those|these|them|they)\b", re.IGNORECASE)
MAX_SPOKEN_CHARS = 320


@dataclass(frozen=True)
class Passage:
    text: str
    source: str = ""


@dataclass(frozen=True)
class Hit:
    text: str
    source: str
    score: float
    id: str = ""


def collection_name(organization: str) -> str:
    """A chromadb-safe name for an organization (3 to 63 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", organization.lower()).strip("-")[:40] or "default"
    digest = hashlib.sha256(organization.encode()).hexdigest()[:8]
    return f"org-{slug}-{digest}"


def _client(path: Path | None) -> Any:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if path is None:
        return chromadb.EphemeralClient(settings=settings)
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


class KnowledgeBase:
    """Passages per organization, on disk (``path``) or in memory (``path=None``)."""

    def __init__(self, embedder: SentenceEmbedder, path: Path | None = None) -> None:
        self._embedder = embedder
        self._client = _client(path)

    def _collection(self, organization: str) -> Any:
        return self._client.get_or_create_collection(
            collection_name(organization), embedding_function=None,
            metadata={"hnsw:space": "cosine", "organization": organization})

    def ingest(self, organization: str, passages: list[Passage]) -> int:
        """Add passages (the same text twice is stored once); returns how many are new."""
        collection = self._collection(organization)
        unique = {hashlib.sha256(p.text.encode()).hexdigest()[:32]: p for p in passages}
        existing = set(collection.get(ids=list(unique))["ids"]) if unique else set()
        new = {key: p for key, p in unique.items() if key not in existing}
        if new:
            collection.add(ids=list(new), documents=[p.text for p in new.values()],
                           metadatas=[{"source": p.source} for p in new.values()],
                           embeddings=self._embedder.embed([p.text for p in new.values()]))
        return len(new)

    def search(self, organization: str, query: str, limit: int = 3,
               context: str = "") -> list[Hit]:
        """The passages nearest ``query``, read in the light of ``context`` (what the
        caller is answering), best first."""
        collection = self._collection(organization)
        if collection.count() == 0 or not query.strip():
            return []
        found = collection.query(query_embeddings=self._query_vector(query, context),
                                 n_results=min(limit, collection.count()),
                                 include=["documents", "metadatas", "distances"])
        return [Hit(text, (meta or {}).get("source", ""), round(1 - distance, 4))
                for text, meta, distance in zip(found["documents"][0], found["metadatas"][0],
                                                found["distances"][0], strict=True)]

    def _query_vector(self, query: str, context: str) -> np.ndarray:
        if not context.strip():
            return self._embedder.embed([query])
        asked, around = self._embedder.embed([query, context])
        weight = POINTING_CONTEXT_WEIGHT if _POINTING.search(query) else CONTEXT_WEIGHT
        blend = (1 - weight) * asked + weight * around
        return (blend / np.linalg.norm(blend))[None, :]

    def answer(self, organization: str, question: str, context: str = "") -> str | None:
        """The best passage if it answers the question well enough, shortened for speech."""
        hits = self.search(organization, question, limit=2, context=context)
        if not hits:
            return None
        rival = max(hits[1].score, NO_RIVAL) if len(hits) > 1 else NO_RIVAL
        best = hits[0].score
        if best >= ANSWER_THRESHOLD or (best >= CLEAR_THRESHOLD
                                        and best - rival >= CLEAR_MARGIN):
            return spoken_excerpt(hits[0].text)
        return None

    def passages(self, organization: str) -> list[Hit]:
        stored = self._collection(organization).get(include=["documents", "metadatas"])
        return [Hit(text, (meta or {}).get("source", ""), 1.0, key)
                for key, text, meta in zip(stored["ids"], stored["documents"],
                                           stored["metadatas"], strict=True)]

    def remove(self, organization: str, passage_id: str) -> bool:
        """Delete one passage; False when the organization has no passage with that id."""
        collection = self._collection(organization)
        if not collection.get(ids=[passage_id])["ids"]:
            return False
        collection.delete(ids=[passage_id])
        return True

    def delete(self, organization: str) -> None:
        self._client.delete_collection(collection_name(organization))


def spoken_excerpt(text: str) -> str:
    """At most two sentences (and ``MAX_SPOKEN_CHARS``): what a caller can take in."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    excerpt = " ".join(sentences[:2])
    if len(excerpt) > MAX_SPOKEN_CHARS:
        excerpt = excerpt[:MAX_SPOKEN_CHARS].rsplit(" ", 1)[0] + "..."
    return excerpt


def read_passages(path: Path) -> list[Passage]:
    """A .txt or .md file as passages: one per paragraph; a Markdown heading is kept as
    context for the paragraphs under it."""
    if path.suffix.lower() not in (".txt", ".md", ".markdown"):
        raise ValueError(f"{path}: only .txt and .md files can be ingested")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    heading, passages = "", []
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith("#") for line in lines):
            heading = lines[-1].lstrip("#").strip()
            continue
        body = " ".join(re.sub(r"^(#+|[-*+]|\d+[.)])\s+", "", line) for line in lines)
        passages.append(Passage(f"{heading}: {body}" if heading else body, path.name))
    return passages
