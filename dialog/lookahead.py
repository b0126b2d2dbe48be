"""Answers given before their question: what the caller wants, said during the opening, and
yes/no answers to questions the flow has not asked yet.

Look-ahead reads only the part of a turn that is not already the answer to the open
question: "Yes, this is Maria" answers "May I speak with Maria?" and says nothing about the
appointment, so the identity confirmation is cut before the look-ahead sees the rest. For
questions not asked yet, only the clause that names the topic is read ("paperless yes, and
text alerts too" answers the alerts question with "text alerts too"), and never a clause that
is itself a question.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dialog.flow_spec import Intent, Step
from dialog.polarity import NEGATION, bare_answer
from dialog.time_preference import parse_preference
from dialog.tracker import Prediction, TrackRequest, early_context, topic_context

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

MIN_EARLY_WORDS = 3
NONE = "none"
# Words that ask for what a clause names ("you can put me on paperless", "turn on the text
# alerts", "I'd like that"): with nothing else beside the topic, the clause is a yes.
_ASKING = {"please", "put", "turn", "sign", "set", "up", "switch", "add", "like", "love", "want",
           "enable", "activate", "keep", "start", "send", "get", "would", "i'd", "id", "i",
           "you", "can", "could", "happy", "great", "good", "fine", "sounds", "that", "those",
           "them", "be", "let's", "lets", "do", "ok", "okay", "prefer", "rather", "stick",
           "i'll", "just", "stay", "carry", "getting", "receiving"}
_TOPIC_GLUE = {"to", "too", "for", "the", "go", "also", "with", "me", "it", "as", "well", "on",
               "and", "a", "some", "any", "by"}
_CLAUSE_BREAK = re.compile(r"[,;.!?]+|\s(?:and|but|also|plus)\s", re.IGNORECASE)
SENTENCE = re.compile(r"[^.!?]+[.!?]*")  # a sentence and its closing marks
_PAUSE_WITHIN = re.compile(r"(?:\.{2,}|…)\s+(?=[a-z])")
_ANSWER_THEN_QUESTION = re.compile(
    r",\s+(?=but\s+(?:how|what|when|where|which|why|who|do|does|did|is|are|can|could|will|"
    r"would|should)\b[^.!]*\?)", re.IGNORECASE)
_INTERROGATIVE = re.compile(
    r"(?:(?:um|uh|hmm|so|ok|okay|oh|well|and|but|sorry)[\s,]+)*(?:how|what|when|where|which|why|"
    r"who|whose|(?:do|did)\s+(?:i|you|we|they)|(?:does|did)\s+(?:it|that|this|he|she|my|the)|"
    r"(?:is|are|am|was|were|will|has|have)\s+(?:i|you|we|it|that|this|there|they|my|your|the|"
    r"he|she))\b", re.IGNORECASE)
# What is left of a date that was not whole: a month, a day, a number.
_DATE_WORD = re.compile(r"\w*\d\w*|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
                        r"[a-z]*|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                        r"tenth|eleventh|twelfth|\w+teenth|twenty\w*|thirty\w*", re.IGNORECASE)
# Greetings and hesitations: beside a confirmation, but confirming nothing on their own
# ("Hello? No, she's not around, this is her husband.").
_GREETING_WORDS = (r"uh|um|er|hmm|oh|ah|well|hi|hello|hey|hiya|howdy|"
                   r"good (?:morning|afternoon|evening)|g'day|kia ora")
_IDENTITY = (_GREETING_WORDS + r"|ok|okay|alright|all right|yes|yeah|yep|yup|yea|yah|"
             r"aye|ja|oui|si|haan|mhm|m+-?hm+|uh-?huh|"
             r"sure|speaking|here|"
             r"correct|that's right|that is right|it's me|it is me|that's me|this is me|"
             r"this is (?:she|he|they)|(?:she|he)'s speaking|(?:this|it) is|it's|i am|i'm|"
             r"that's|that is|you are|you're|speaking to (?:her|him)|go ahead")


_GREETING = re.compile(rf"(?:\b(?:{_GREETING_WORDS})\b[\s-]*)+", re.IGNORECASE)


def _confirmations(name: str) -> re.Pattern[str]:
    """Runs of words that confirm who is speaking ("yes, this is Maria", "speaking")."""
    names = "|".join(re.escape(part) for part in name.lower().split() if len(part) > 1)
    phrase = _IDENTITY + (f"|{names}" if names else "")
    return re.compile(rf"(?:\b(?:{phrase})\b[\s-]*)+", re.IGNORECASE)


def identity_residue(text: str, name: str) -> str:
    """``text`` without its identity confirmations ("yes, this is Maria"): the clauses
    made only of them are dropped wherever they are ("Kia ora, yes, that's me", "Sorry, the
    line cut out. Yes, this is Maria.")."""
    confirms = _confirmations(name)
    clauses = (c.strip() for c in _CLAUSE_BREAK.split(text))
    return ", ".join(c for c in clauses if c and not confirms.fullmatch(c))


def confirms_identity(text: str, name: str) -> bool:
    """Whether a clause of ``text`` is made only of words that confirm who is speaking (a
    greeting alone is not one)."""
    confirms = _confirmations(name)
    return any(confirms.fullmatch(c.strip()) and not _GREETING.fullmatch(c.strip())
               for c in _CLAUSE_BREAK.split(text) if c.strip())


def is_question(sentence: str) -> bool:
    """A sentence asked: with its question mark, or, as a transcriber may leave it out, in a
    question's word order ("do i keep my no claims bonus if i renew"). "Can you ..." and
    "could you ..." are left out: they are mostly requests ("can you call me tomorrow")."""
    return sentence.rstrip().endswith("?") or _INTERROGATIVE.match(sentence) is not None


def sentences(text: str) -> list[str]:
    """The sentences of ``text``; an answer and a question said in one ("Yeah it came, but
    how do I activate it?") are two. In a turn written with capitals, an ellipsis before a
    word in lower case is a pause inside a sentence ("Before I decide... does it cover
    flooding?"), not the end of one."""
    if text[:1].isupper():
        text = _PAUSE_WITHIN.sub("… ", text)
    # the pause written back as the three dots the tracker learnt, not as "…"
    return [part.strip().replace("…", "...") for sentence in SENTENCE.findall(text)
            for part in _ANSWER_THEN_QUESTION.split(sentence) if part.strip()]


def statements(text: str) -> str:
    """The sentences of ``text`` that are not questions."""
    return " ".join(s for s in sentences(text) if not is_question(s))


def questions(text: str) -> str:
    return " ".join(s for s in sentences(text) if is_question(s))


_WHY = re.compile(r"\bwhy\b(?!\s+not\b)", re.IGNORECASE)


def why_questions(text: str) -> str:
    """The sentences of ``text`` that ask why ("Why did it go up??", "Wah, why so expensive
    one?"), not "why not?", which agrees."""
    return " ".join(s for s in sentences(text) if is_question(s) and _WHY.search(s))


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_BREAK.split(statements(text)) if c.strip()]


def _mentions(clause: str, words: list[str], *, whole: bool = False) -> bool:
    lowered, end = clause.lower(), r"\b" if whole else ""
    return any(re.search(rf"\b{re.escape(word.lower())}{end}", lowered) for word in words)


# -- the opening ----------------------------------------------------------------------


def early_requests(agent: FlowAgent, residue: str) -> list[TrackRequest]:
    """Before verification: did the caller already say what they want? Not in a few words
    around the contact's name: "Yes, live in Tom" is "Yes, this is Tom" misheard, and the
    tracker may read anything in it, even a yes to renewing a policy not yet presented."""
    # the words that say something besides who is speaking ("fine yeah it's victor": one)
    said = _confirmations(str(agent.setup.contact.get("name") or "")).sub(" ", residue)
    words = [word for word in re.findall(r"[\w']+", said) if not _DATE_WORD.fullmatch(word)]
    if agent.state.verified or len(words) < MIN_EARLY_WORDS or bare_answer(" ".join(words)):
        # A bare yes or no before its question answers the one asked ("June 4th... no,
        # sorry, June 14th" corrects the date; it does not say no to the card question).
        return []
    start = agent.flow.start
    labels = (*agent.intents_of(start), NONE)
    return [TrackRequest(agent.question_of(start), residue, labels,
                         early_context(agent.flow.agent)),
            *topic_requests(agent, residue, exclude=start)]


def keep_early(agent: FlowAgent, predictions: list[Prediction], residue: str) -> None:
    """Keep what the caller asked for early; it is handled right after verification.

    Said before its question, an intent must be clear: the strong threshold applies, and a
    yes or a no must say what it is about ("..., and yes, renew it"): "April the first,
    1999. No joke, eh." once renewed a policy the caller had not yet heard of."""
    if not predictions:
        return
    first, *topics = predictions
    if first.label in _POLAR and not names_step(agent, agent.flow.start, residue):
        first = Prediction(NONE, 1.0, {NONE: 1.0})
    if first.label != NONE and first.confidence >= agent.services.strong:
        agent.state.pending_intent, agent.state.pending_words = first.label, residue
        keep_wish(agent, agent.intents_of(agent.flow.start)[first.label], residue)
    keep_topics(agent, topic_steps(agent, residue, exclude=agent.flow.start), topics)


_POLAR = ("yes", "no")
# Words of a step's question that say nothing of what it is about.
_PLAIN = {"have", "will", "with", "your", "like", "please", "would", "year", "about",
          "calling", "welcome", "ending", "opened", "compared", "able"}


def names_step(agent: FlowAgent, step: str, text: str) -> bool:
    """Whether ``text`` names what a step's question is about: a word of its question or
    of its topic ("renewing" for "Would you like to renew?")."""
    spec = agent.flow.steps[step]
    asked = re.sub(r"\{[^}]*\}", " ", " ".join(filter(None, (spec.say, spec.ask, spec.listen))))
    stems = {word[:5] for word in re.findall(r"[a-z]{4,}", asked.lower()) if word not in _PLAIN}
    said = re.findall(r"[a-z]{4,}", text.lower())
    return any(word.startswith(stem) for word in said for stem in stems) or \
        _mentions(text, spec.topic)


def keep_wish(agent: FlowAgent, intent: Intent, text: str) -> None:
    """A day or time said with an intent that goes on to ask for one ("Could we move it to
    a Wednesday?"): the question is then not asked (its step is skipped)."""
    asks = [agent.flow.steps.get(effect.goto) for effect in intent.then if effect.goto]
    if any(step is not None and step.collect == "preference" for step in asks):
        wish = parse_preference(text, agent.setup.now)
        if not wish.empty:
            agent.state.preference = wish


# -- yes/no steps not asked yet -------------------------------------------------------


def _names_topic(clause: str, spec: Step) -> bool:
    return _mentions(clause, spec.topic) or _mentions(clause, spec.topic_against, whole=True)


def topic_steps(agent: FlowAgent, text: str, exclude: str) -> list[str]:
    """Steps still to come whose topic a clause of ``text`` names. Their own words only:
    the other choice's say little before the question is asked ("nothing's come through
    the post" is about the card, not paper statements)."""
    clauses = _clauses(text)
    return [name for name, spec in agent.flow.steps.items()
            if spec.slot and spec.topic and name not in (exclude, agent.state.step)
            and spec.slot not in agent.state.slots
            and any(_mentions(clause, spec.topic) for clause in clauses)]


def topic_clause(agent: FlowAgent, name: str, text: str) -> str:
    """The clauses of ``text`` about a step still to come: those naming its choice, and,
    once one does, those naming the other choice ("no paper statements, send everything by
    email only")."""
    return ", ".join(c for c in _clauses(text) if _names_topic(c, agent.flow.steps[name]))


_PREFERRING = frozenset({"like", "prefer", "love", "keep", "stick", "fine", "good", "happy",
                         "ok", "okay", "rather", "want", "suits", "works"})


def named_answer(text: str, spec: Step) -> str | None:
    """The answer to a step's own question given by naming its choice ("yes to sms
    alerts") or the other one ("Yeah, nah, paper's fine for me" to paperless statements: a
    no, which the tracker, hearing "fine", reads as a yes), when the words settle it: the
    last clause that does ("text alerts... not at the moment, no": a no)."""
    clauses = _clauses(text)
    if not any(_names_topic(clause, spec) for clause in clauses):
        return None
    settled = [answer for clause in clauses
               if (answer := _clause_polarity(clause, spec)) is not None]
    return settled[-1] if settled and settled[-1] in spec.intents else None


def topic_polarity(clause: str, spec: Step) -> str | None:
    """The answer a clause naming a step's topic gives, when its words settle it: "paperless
    yes", "no text alerts", "you can put me on paperless" (a topic asked for), "I don't want
    paper" (the other choice refused: a yes). Clauses that disagree settle nothing."""
    parts = _clauses(clause)
    # "Yeah, nah, paper's fine": the clause that names the choice settles it, not the
    # "yeah, nah" before it
    naming = [part for part in parts if _names_topic(part, spec)]
    answers = {_clause_polarity(part, spec) for part in naming or parts} - {None}
    return answers.pop() if len(answers) == 1 else None


# Said around a request, adding nothing to it: "set up paperless while you're at it"
_ASIDE_TAIL = re.compile(r"\b(?:while (?:you'?re|ur) at it|if you can|if possible)\b")


def _clause_polarity(clause: str, spec: Step) -> str | None:
    words = [re.sub(r"'s$", "", w)
             for w in re.findall(r"[a-z']+", _ASIDE_TAIL.sub(" ", clause.lower()))]
    against = {w.lower() for w in spec.topic_against}
    topical = [w for w in words if any(w.startswith(t) for t in spec.topic)]
    asked = set(re.findall(r"[a-z']+", (spec.say or "").lower()))  # the question's own words
    rest = [w for w in words if w not in _TOPIC_GLUE and w not in asked and w not in against
            and w not in topical]
    if not rest and not topical and not against & set(words):
        return None  # "and": nothing said
    negated = [w for w in rest if NEGATION.fullmatch(w) or w.endswith("n't")]
    polarity = bare_answer(" ".join(rest))
    if polarity is None and all(w in _ASKING for w in rest if w not in negated):
        polarity = "no" if negated else "yes"
    if polarity is None:  # "actually wait yes do the text alerts": the yes, asking for them
        polarity = bare_answer(" ".join(w for w in rest if w not in _ASKING))
    if not topical and against & set(words):
        preference = _preference(words)
        if preference is not None:  # "no, I like paper": the other choice wanted
            return "no" if preference else "yes"
        if polarity:  # "no paper", "not paper": the other choice refused
            polarity = "yes" if polarity == "no" else "no"
    return polarity


def _preference(words: list[str]) -> bool | None:
    """Whether the words like something ("I like paper", "paper's fine", "I'd rather have
    paper") or, negated close before, do not ("I don't want paper"); None when they say
    neither. A leading "no" then answers the question, it does not negate the liking."""
    for index, word in enumerate(words):
        if word in _PREFERRING:
            before = words[max(0, index - 2):index]
            return not any(w in ("not", "never") or w.endswith("n't") for w in before)
    return None


def topic_requests(agent: FlowAgent, text: str, exclude: str) -> list[TrackRequest]:
    """One yes/no request per step still to come whose topic ``text`` names. A clause that
    is a bare answer reaches the tracker as just that answer, for the polarity parser."""
    requests = []
    for name in topic_steps(agent, text, exclude):
        clause = topic_clause(agent, name, text)
        bare = topic_polarity(clause, agent.flow.steps[name])
        requests.append(TrackRequest(agent.question_of(name), bare or clause, ("yes", "no", NONE),
                                     topic_context(agent.flow.agent, name)))
    return requests


def keep_topics(agent: FlowAgent, names: list[str], predictions: list[Prediction]) -> None:
    """Yes/no answers the caller gave to questions not asked yet."""
    for name, prediction in zip(names, predictions, strict=True):
        slot = agent.flow.steps[name].slot
        if slot and prediction.label in ("yes", "no") and \
                prediction.confidence >= agent.services.threshold:
            agent.state.slots[slot] = prediction.label == "yes"


def without_topics(agent: FlowAgent, text: str, names: list[str]) -> str:
    """``text`` without the clauses that answer other steps: empty when every clause does
    ("no texts please", said to the paperless question). A turn with a question is kept
    whole."""
    if not names or questions(text):
        return text
    steps = [agent.flow.steps[name] for name in names]
    return ", ".join(c for c in _clauses(text) if not any(_mentions(c, s.topic) for s in steps))
