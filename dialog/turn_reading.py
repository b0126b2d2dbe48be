"""Reading a caller's turn at a step: the labels the step allows (its intents, the answer
of a collect step, the global ones), and the turn read whole and sentence by sentence in
one batch (``dialog.reading``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dialog import reading
from dialog.own_people import not_for_own_people
from dialog.polarity import without_correcting_no, without_lead_in, without_yeah_before_no
from dialog.reading import Reading
from dialog.tracker import Prediction, TrackRequest, step_context

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

GLOBAL_LABELS = ("stop", "person", "later", "question", "rude", "hold", "other")
ANSWER = "answer"  # the label for "the caller answered the question" on collect steps


def main_request(agent: FlowAgent, text: str) -> TrackRequest:
    step = agent.state.step
    spec = agent.step_spec()
    answer = (ANSWER,) if spec is not None and spec.collect else ()
    labels = tuple(agent.intents_of(step)) + answer + GLOBAL_LABELS
    utterance = without_lead_in(without_correcting_no(without_yeah_before_no(text)))
    return TrackRequest(agent.question_of(step), utterance, labels,
                        step_context(agent.flow.agent, step))


def understood(agent: FlowAgent, prediction: Prediction) -> bool:
    return prediction.confidence >= agent.services.threshold


async def read_turn(agent: FlowAgent, request: TrackRequest,
                    *extra: TrackRequest) -> tuple[Reading, list[Prediction]]:
    """The turn read whole and sentence by sentence (``dialog.reading``), with ``extra``
    requests tracked in the same batch; their predictions come back in order."""
    parts = reading.part_requests(request)
    requests = [request, *parts, *extra]
    whole, *rest = [not_for_own_people(asked, prediction) for asked, prediction
                    in zip(requests, await agent.track(requests), strict=True)]
    said = tuple(zip((p.utterance for p in parts), rest, strict=False))
    read = reading.resolve(whole, said,
                           [label for label in request.labels if label not in GLOBAL_LABELS],
                           agent.services.threshold, agent.services.strong)
    return replace(read, parts=said, whole=whole), rest[len(parts):]
