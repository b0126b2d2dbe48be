"""Reading a caller's turn that says more than one thing.

"Why do you need that? I'd rather talk to a person." "Ugh, what do you clowns want now?
Yeah, it's me." "I can't make it. Could we do Friday instead?" Read whole, such a turn is a
blur of its sentences, and the tracker's best label for it is often none of what was meant
(the first read as ``why``, the second as ``rude``). So each sentence of a longer turn is
tracked as well, in the same batch as the whole, and the turn is read by what matters most:

1. an opt-out, a request for a person or to be called back, said surely in a sentence of its
   own and not ruled out by the whole turn, is honoured (the whole turn is a blur: "Sorry,
   wrong number. There's nobody called Beatriz at this number." read whole was an opt-out);
2. otherwise the turn answers the open question: as read whole, when that is one of its
   sentences' answers ("She's not in, I'm her husband. What's it regarding?" is not a
   question about who is calling), else as its last answering sentence (callers correct
   themselves: "No... wait. Yes."), which must be sure when the whole turn is read surely
   (as an aside or as another answer); a question asked beside the answer is answered too;
3. otherwise the whole turn's reading stands, or, when it is unsure, the clearest sentence.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from dialog import lookahead
from dialog.tracker import Prediction, TrackRequest

URGENT = ("stop", "person", "later")  # honoured wherever in a turn they are said surely
# ... unless the turn read whole all but rules it out: "If I sign up, how would I turn them
# off later?" alone reads as an opt-out, as part of "Maybe. If I sign up, ..." it does not.
NOT_DENIED = 0.15
# ... except an opt-out this sure, said last and asking nothing: in "why do u need my dob??
# this is ridiculous. pls unsubscribe me", read whole as asking why, it is said plainly.
# (Not a call back: "Okay, I'm back." is read as one, surely, often enough.)
PLAINLY = 0.95
# Without an answer to the open question, the clearest of these sentences speaks for the turn.
ASIDES = ("question", "rude", "hold", "other")
MAX_SENTENCES = 4  # a longer turn is read by its first and last sentences as well
# A sentence this long is a story, not a request: read on its own (clipped to the tracker's
# window) it can come out as anything, a request for a person included.
MAX_PART_WORDS = 40
# A monologue is read whole and by its last sentences, where a caller who went round the
# houses comes to the point ("... But no, I won't be renewing with ye this time.").
MAX_SPLIT_WORDS = 120


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` with words in them, up to ``MAX_PART_WORDS`` each; a long
    turn keeps its first and last ones, where what the caller wants usually is."""
    found = [part for part in lookahead.sentences(text)
             if 0 < len(re.findall(r"\w+", part)) <= MAX_PART_WORDS]
    if len(found) > MAX_SENTENCES:
        half = MAX_SENTENCES // 2
        found = found[:half] + found[-half:]
    return found


def part_requests(request: TrackRequest) -> list[TrackRequest]:
    """One request per sentence of a turn of several sentences (none for one sentence);
    for a monologue, one for each of its last sentences."""
    parts = sentences(request.utterance)
    if len(request.utterance.split()) > MAX_SPLIT_WORDS:
        parts = parts[-(MAX_SENTENCES // 2):] if len(parts) > 1 else []
    elif len(parts) < 2:
        parts = []
    return [replace(request, utterance=part) for part in parts]


@dataclass(frozen=True)
class Reading:
    """What a turn does (``main``) and the questions asked beside an answer (``asked``,
    empty when none), which the agent answers before acting on ``main``."""

    main: Prediction
    asked: str = ""
    parts: tuple[tuple[str, Prediction], ...] = ()  # each sentence and how it reads
    whole: Prediction | None = None  # the turn read whole (set by ``turn_reading``)

    def all_readings(self) -> list[Prediction]:
        """Each sentence's reading, then the whole turn's."""
        return [part for _, part in self.parts] + ([self.whole] if self.whole else [])


def resolve(whole: Prediction, parts: Sequence[tuple[str, Prediction]],
            answers: Collection[str], threshold: float, strong: float) -> Reading:
    """The reading of a turn from its whole prediction and its sentences' (``parts``:
    sentence and prediction). ``answers``: the labels that answer the open question."""
    if not parts:
        return Reading(whole)
    last, said_last = parts[-1]
    plain_stop = said_last.label == "stop" and said_last.confidence >= PLAINLY \
        and not lookahead.is_question(last)
    for label in URGENT:
        sure = [(text, p) for text, p in parts if p.label == label and p.confidence >= strong]
        plain = label == "stop" and plain_stop
        if sure and (plain or whole.scores.get(label, 0.0) >= NOT_DENIED):
            return Reading(max((p for _, p in sure), key=lambda p: p.confidence))
    # Against a turn read surely as something else, a sentence must answer surely too ("Oh
    # good. By the way, what day is my sister's appointment?": "Oh good." is no answer;
    # "Yeah, no, I think I'll pass this year. Too rich for me." is surely a no whole, and
    # its first sentence, read unsurely as a yes, does not overrule it).
    bar = strong if whole.confidence >= strong else threshold
    answering = [p for _, p in parts if p.label in answers and (
        p.confidence >= bar or (p.label == whole.label and p.confidence >= threshold))]
    if answering:
        asked = " ".join(text for text, p in parts
                         if p.label == "question" and p.confidence >= threshold)
        agrees = whole.confidence >= threshold and whole.label in {p.label for p in answering}
        return Reading(whole if agrees else answering[-1], asked)
    if whole.confidence >= threshold:
        return Reading(whole)
    for label in ASIDES:
        clear = [p for _, p in parts if p.label == label and p.confidence >= threshold]
        if clear:
            return Reading(max(clear, key=lambda p: p.confidence))
    return Reading(whole)
