"""Prometheus metrics of the server, one registry per application (so tests can build
several apps in one process), served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


class Metrics:
    """What an operator watches: traffic, errors and how fast replies come, per channel
    and agent."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.conversations = Counter(
            "ava_conversations_total", "Conversations started", ("channel", "agent"),
            registry=self.registry)
        self.turns = Counter(
            "ava_turns_total", "Caller turns answered", ("channel", "agent"),
            registry=self.registry)
        self.errors = Counter(
            "ava_errors_total", "Errors by kind", ("channel", "kind"), registry=self.registry)
        self.reply_latency = Histogram(
            "ava_reply_latency_seconds", "Caller turn received to agent reply ready",
            ("channel", "agent"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.outcomes = Counter(
            "ava_outcomes_total", "Conversations ended, by outcome", ("agent", "outcome"),
            registry=self.registry)
        self.connections = Gauge(
            "ava_open_connections", "Open WebSocket connections", ("channel",),
            registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
