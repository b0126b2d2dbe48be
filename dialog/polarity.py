"""Bare yes and no: a parser that assists the tracker on the shortest answers.

"um, no", "yeah no", "nope, thanks" carry nothing but their polarity, and the tracker's
models, which read meaning, are least sure exactly there (a 135M SLM hears "um" as the
start of a question). A turn made only of polarity words and fillers is read here; the
last polarity word decides ("yeah no" is no, "no, wait, yes" is yes); a few set phrases
count as one polarity word ("I guess so", "not really"). Anything longer goes
to the tracker as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dialog.tracker import IntentTracker, Prediction, TrackRequest

# Typed as well as said: a chat caller writes "yeh pls", "yea", "naw", "no ty".
_YES = {"yes", "yeah", "yep", "yup", "ya", "yah", "yeh", "yea", "yess", "yesss", "sure",
        "absolutely", "definitely", "certainly", "correct", "affirmative", "indeed"}
_NO = {"no", "nope", "nah", "naw", "negative", "never"}
_FILLERS = {"uh", "um", "umm", "er", "erm", "hmm", "mm", "oh", "ah", "well", "so", "please",
            "pls", "plz", "thanks", "thank", "thx", "ty", "ta", "you", "wait", "actually", "i",
            "mean", "sorry", "sry", "ok", "okay", "k", "gosh", "oops", "whoops", "dear"}
# "Tuesday no wait Wednesday", "Tuesday — no, sorry, Wednesday": a "no" that corrects the
# words before it, not an answer ("Well, no, sorry." ends there: it answers).
_CORRECTING_NO = re.compile(r"(?<=\w)[\s,.—–-]+(?:no|nope)[\s,.]+(?=(?:wait|i mean(?! it)|"
                            r"actually|make that|rather)\b|sorry[\s,]+\w)", re.IGNORECASE)


def without_correcting_no(text: str) -> str:
    """``text`` without a "no" that only starts a self-correction in mid-turn ("Tuesday no
    wait Wednesday"), which the tracker would read as the answer no; a "no" that opens the
    turn ("No, wait, yes") is an answer and stays."""
    return _CORRECTING_NO.sub(_mid_turn, text)


def _mid_turn(match: re.Match[str]) -> str:
    """Blank when words other than fillers come before the "no" ("Tuesday, no, sorry"),
    the match as it was when only fillers do ("Um, no, sorry, I can't": an answer)."""
    before = re.findall(r"[a-z']+", match.string[:match.start()].lower())
    return " " if any(word not in _FILLERS for word in before) else match.group()


# "Yeah, no, I think I'll pass this year.": a "yeah" that opens a "no" only softens it.
_YEAH_BEFORE_NO = re.compile(
    r"(?:^|(?<=[.!?…]\s))((?:(?:um|uh|hm+|oh|ah|well)\W+)*)(?:yeah|yea|yeh|ya|yep)[\s,.…-]+"
    r"(?=(?:no|nah|nope)\b)", re.IGNORECASE)


def without_yeah_before_no(text: str) -> str:
    """``text`` without the "yeah" of a sentence that opens "yeah, no", which the tracker
    hears as a yes when more words follow ("Yeah, no, I'll pass" read as yes, 0.85); the
    parser already reads "yeah no" alone as no."""
    return _YEAH_BEFORE_NO.sub(r"\1", text)


# "Before I say yes, is there parking?": words that put the answer off, not an answer,
# followed by a pause or by a question.
_PUT_OFF = (r"before\s+(?:i|we)\s+(?:answer|decide|say\s+yes|say\s+anything|commit|agree|"
            r"confirm|go\s+ahead|renew)(?:\s+(?:that|this|it|anything))?|before\s+that")
_ASKING = r"what|wat|whats|how|can|could|is|are|do|does|why|when|where|who"
_LEAD_IN = re.compile(
    rf"^\s*(?:(?:just|but|ok|okay|so|well|um|uh|hmm|oh)[\s,]+)*(?:{_PUT_OFF})"
    rf"(?:\s*(?:,|\.{{2,3}}|…|-)\s*(?=\w)|\s+(?=(?:{_ASKING})\b))", re.I)


def without_lead_in(text: str) -> str:
    """``text`` without an opening that only puts the answer off ("Before I say yes, ...",
    "before that, ..."): what follows it, a question most often, is what the turn says."""
    return _LEAD_IN.sub("", text, count=1)


# A word that turns an answer round: "that works" against "that doesn't work".
NEGATION = re.compile(r"\b(?:no|not|nope|nah|never|neither|none)\b|n't\b")
_MAX_WORDS = 6
_PHRASES = {"i guess so": "yes", "i think so": "yes", "i suppose so": "yes", "why not": "yes",
            "of course": "yes", "go ahead": "yes", "sounds good": "yes", "that's right": "yes",
            "not really": "no", "i don't think so": "no", "no way": "no", "not at all": "no",
            "i'd rather not": "no", "not now": "no", "mm hmm": "yes", "uh huh": "yes",
            "mhm": "yes", "mmhmm": "yes", "uh uh": "no", "nuh uh": "no"}


def bare_answer(text: str) -> str | None:
    """``yes`` or ``no`` when ``text`` is only a polarity answer, else None."""
    lowered = text.lower().replace("-", " ")  # "mm-hmm", "uh-huh"
    for phrase, polarity in _PHRASES.items():
        lowered = re.sub(rf"\b{phrase}\b", " yes " if polarity == "yes" else " no ", lowered)
    words = re.findall(r"[a-z']+", lowered)
    if not words or len(words) > _MAX_WORDS:
        return None
    polar = [w for w in words if w in _YES or w in _NO]
    if not polar or any(w not in _YES and w not in _NO and w not in _FILLERS for w in words):
        return None
    return "yes" if polar[-1] in _YES else "no"


def leading_answer(text: str) -> str | None:
    """``yes`` or ``no`` when ``text`` opens with one, hesitations aside ("Um, no thanks
    then."), else None."""
    for word in re.findall(r"[a-z']+", text.lower()):
        if word not in _FILLERS:
            return "yes" if word in _YES else "no" if word in _NO else None
    return None


class PolarityAssist:
    """The tracker, with bare yes/no answers read by :func:`bare_answer` when a step
    offers both labels."""

    def __init__(self, tracker: IntentTracker) -> None:
        self._tracker = tracker

    def predict(self, requests: Sequence[TrackRequest]) -> list[Prediction]:
        """The parser's answer where it reads one; the tracker runs only on the rest (its
        prediction for a bare yes or no would be thrown away: a third of all turns)."""
        settled = [self._parsed(request) for request in requests]
        unsettled = [r for r, answer in zip(requests, settled, strict=True) if answer is None]
        predicted = iter(self._tracker.predict(unsettled) if unsettled else [])
        return [answer if answer is not None else next(predicted) for answer in settled]

    @staticmethod
    def _parsed(request: TrackRequest) -> Prediction | None:
        if not {"yes", "no"} <= set(request.labels):
            return None
        answer = bare_answer(request.utterance)
        if answer is None:
            return None
        scores = {label: float(label == answer) for label in request.labels}
        return Prediction(answer, 1.0, scores)
