"""A request for a person is a request for someone at the organization.

"I'd have to talk it over with my daughter first" or "let me run it by my husband" names
the caller's own people: the caller wants time, not a transfer. The tracker, hearing "talk
it over with", "speak to", reads such a turn as a request for a person often enough (two
blind held-out sets, and surely, 0.95) that handing the caller over would be a common
wrong turn; when the words name only the caller's own people and no one at the
organization, the reading as a request for a person is set aside.
"""

from __future__ import annotations

import re

from dialog.tracker import Prediction, TrackRequest

PERSON = "person"
_RELATIVES = (r"wife|husband|hubby|missus|spouse|partner|other half|fianc[eé]e?|girlfriend|"
              r"boyfriend|gf|bf|daughter|son|kids?|children|mum|mom|mother|dad|father|parents?|"
              r"brother|sister|sibling|grand(?:son|daughter|kids?|ma|pa|mother|father)|"
              r"(?:mother|father|son|daughter|brother|sister)[- ]in[- ]law|niece|nephew|aunt|"
              r"uncle|cousin|carer|caregiver")
_OWN_PEOPLE = re.compile(
    rf"\bmy\s+(?:{_RELATIVES}|family|accountant|financial advis[eo]r|lawyer|solicitor)\b"
    r"|\bthe\s+(?:wife|missus|hubby|husband|other half|kids|family)\b", re.IGNORECASE)
# "this is her daughter", "I'm his wife": someone else answering for the contact
_SOMEONE_ELSE = re.compile(
    rf"\b(?:this is|it's|its|i'm|im|i am)\s+(?:his|her|their)\s+"
    rf"(?:{_RELATIVES}|neighbou?r|friend|colleague|flatmate|roommate|assistant|secretary)\b",
    re.IGNORECASE)
_STAFF = re.compile(
    r"\b(?:someone|somebody|anyone|anybody|person|human|agent|representative|rep|manager|"
    r"supervisor|staff|team|operator|reception(?:ist)?|front desk|customer service|member)\b",
    re.IGNORECASE)


def consults_own_people(utterance: str) -> bool:
    """Whether ``utterance`` names the caller's own people (family, their accountant) and
    no one at the organization."""
    return _OWN_PEOPLE.search(utterance) is not None and _STAFF.search(utterance) is None


def someone_else_answering(utterance: str) -> bool:
    """Whether the caller says they are the contact's relative or friend ("this is her
    daughter, amma is at the temple"): a wrong person, whatever else the turn asks."""
    return _SOMEONE_ELSE.search(utterance) is not None


def not_for_own_people(request: TrackRequest, prediction: Prediction) -> Prediction:
    """``prediction`` without its reading as a request for a person when the words are
    about the caller's own people: the best of its other labels, their scores summing to
    one again ("go through it with my wife first": unsure 0.40, person 0.32 is unsure)."""
    if not prediction.scores.get(PERSON) or not consults_own_people(request.utterance):
        return prediction
    others = {label: score for label, score in prediction.scores.items() if label != PERSON}
    if not others:
        return prediction
    total = sum(others.values()) or 1.0
    scores = {label: score / total for label, score in others.items()}
    best = max(scores, key=scores.__getitem__)
    return Prediction(best, scores[best], scores)
