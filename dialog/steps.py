"""What happens at each kind of step: the built-in opening (identify, verify), the close
(anything else), and the flow's own steps (yes/no and choice steps, collected slots)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from dialog import actions, lookahead, reading
from dialog.dates import birth_dates, parse_preference, remove_birth_dates
from dialog.flow_spec import Step
from dialog.polarity import bare_answer
from dialog.reading import Reading
from dialog.state import CALLBACK_REQUESTED, NOT_VERIFIED, WRONG_PERSON
from dialog.tracker import Prediction, TrackRequest, step_context

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

GLOBAL_LABELS = ("stop", "person", "later", "question", "rude", "hold", "other")
# Before verification, a request the flow's first question is all but sure of ("I need to
# cancel my appointment") wins over an opt-out reading that is not sure (see
# ``_asks_before_verifying``).
EARLY_SURE, STOP_SURE = 0.99, 0.9
# The global labels that, surely said, interrupt a step collecting a free answer.
_INTERRUPTING = tuple(label for label in GLOBAL_LABELS if label != "other")
BUILT_IN_QUESTION = {"identify": "identify_question", "verify": "verify",
                      "anything_else": "anything_else"}
_CALLBACK_WHEN = ("tomorrow morning", "tomorrow afternoon", "tomorrow evening", "tomorrow",
                  "next week", "this evening", "tonight", "later today", "in an hour",
                  "this afternoon")
_WHEN = ("preference", "slot_choice")  # collected slots that say when
_HELLO = re.compile(r"\W*(?:(?:hello|hi|hey|hiya|hallo)\W*)+", re.IGNORECASE)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


async def take_turn(agent: FlowAgent, text: str) -> None:
    step = agent.state.step
    if step == "identify":
        await _identify(agent, text)
    elif step == "verify":
        await _verify(agent, text)
    elif step == "anything_else":
        await _anything_else(agent, text)
    elif step != "end":
        await _flow_step(agent, text)


ANSWER = "answer"  # the label for "the caller answered the question" on collect steps


def _main_request(agent: FlowAgent, text: str) -> TrackRequest:
    step = agent.state.step
    spec = agent.step_spec()
    answer = (ANSWER,) if spec is not None and spec.collect else ()
    labels = tuple(agent.intents_of(step)) + answer + GLOBAL_LABELS
    return TrackRequest(agent.question_of(step), text, labels,
                        step_context(agent.flow.agent, step))


def _understood(agent: FlowAgent, prediction: Prediction) -> bool:
    return prediction.confidence >= agent.services.threshold


async def _read(agent: FlowAgent, request: TrackRequest,
                *extra: TrackRequest) -> tuple[Reading, list[Prediction]]:
    """The turn read whole and sentence by sentence (``dialog.reading``), with ``extra``
    requests tracked in the same batch; their predictions come back in order."""
    parts = reading.part_requests(request)
    whole, *rest = await agent.track([request, *parts, *extra])
    said = tuple(zip((p.utterance for p in parts), rest, strict=False))
    read = reading.resolve(whole, said,
                           [label for label in request.labels if label not in GLOBAL_LABELS],
                           agent.services.threshold, agent.services.strong)
    return replace(read, parts=said), rest[len(parts):]


# -- the opening ----------------------------------------------------------------------


async def _identify(agent: FlowAgent, text: str) -> None:
    if _HELLO.fullmatch(text):  # "Hello?": they did not catch who is calling
        agent.say_line("greeting")
        return
    dobs = birth_dates(text, agent.setup.now.date())
    name = str(agent.setup.contact.get("name") or "")
    residue = lookahead.identity_residue(remove_birth_dates(text), name)
    read, early = await _read(agent, _main_request(agent, text),
                              *lookahead.early_requests(agent, residue))
    main = read.main
    label = main.label
    refused = label in ("stop", "person", "not_them") and _understood(agent, main)
    confirmed = lookahead.confirms_identity(text, name)
    if not confirmed and any(part.label == "not_them" and part.confidence >= agent.services.strong
                             for _, part in read.parts):
        # "He's not here, I'm his wife. ... I'll pass it on.": the last sentence is no yes
        label = "not_them"
    elif not refused and (dobs or not residue or (confirmed and (
            label in ("rude", "other") or not _understood(agent, main)))):
        # a date of birth offered straight away, or words that confirm who they are
        # ("This is Priyanka.", "Kia ora, yes, that's me") with nothing else clear beside
        # them ("Yeah it's me, what the f*** do you want now?"): it is them
        label = "yes"
    elif not _understood(agent, main):
        not_understood(agent, text)
        return
    agent.state.misunderstood_in_a_row = 0
    if label == "yes":
        lookahead.keep_early(agent, early, residue)
        agent.state.heard_birth_dates = dobs
        agent.goto("verify")
    elif label == "who":
        agent.say_line("who")
        agent.say_line("identify_question")
    elif label == "not_them":
        agent.finish_with(WRONG_PERSON, "wrong_person")
    else:
        agent.handle_global(label, text)


async def _verify(agent: FlowAgent, text: str) -> None:
    dobs = birth_dates(_keypad_date(text), agent.setup.now.date())
    residue = remove_birth_dates(text, between=True)
    if dobs:
        await _date_given(agent, dobs, residue)
        return
    if not lookahead.identity_residue(text, str(agent.setup.contact.get("name") or "")):
        # "This is Maria", the end of a "Yes, ... this is Maria" split by a pause: the
        # caller is still confirming who they are; not a question, not a wrong date.
        agent.say_line("verify")
        return
    read, early = await _read(agent, _main_request(agent, text),
                              *lookahead.early_requests(agent, residue))
    main = read.main
    if _asks_before_verifying(agent, main, early):
        # "I'd just like to cancel it": kept for after verification, and no wrong date
        lookahead.keep_early(agent, early, residue)
        agent.say_line("verify_first")
    elif main.label == "why" and _understood(agent, main):
        agent.say_line("verify_why")
        # "How do I know this isn't a scam? Is there a number I can ring?": what the
        # organization's own passages say about it, when they do
        agent.answer_question(text, unknown_unsaid=True)
        agent.say_line("verify")
    elif main.label == "refuse" and _understood(agent, main):
        _missed_verification(agent, retry="verify_refused")
    elif main.label == "not_them" and _understood(agent, main):
        agent.finish_with(WRONG_PERSON, "wrong_person")
    elif main.label in GLOBAL_LABELS and main.label != "other" and _understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        _missed_verification(agent)


async def _date_given(agent: FlowAgent, dobs: list[date], residue: str) -> None:
    """A date, and what else was said with it: an opt-out or a request for a person is
    done at once, as at any step ("March 3rd, 69, and scrub me off your books"); a request
    of the flow's is kept for after verification."""
    early_requests = lookahead.early_requests(agent, residue)
    if not early_requests:  # a few words around the date: nothing else was said
        check_birth_date(agent, dobs)
        return
    read, early = await _read(agent, _main_request(agent, residue), *early_requests)
    main = read.main
    urgent = main.label in ("stop", "person") and main.confidence >= agent.services.strong
    if urgent and not (main.label == "stop" and _asks_before_verifying(agent, main, early)):
        agent.handle_global(main.label, residue)
        return
    lookahead.keep_early(agent, early, residue)
    check_birth_date(agent, dobs)


def _asks_before_verifying(agent: FlowAgent, main: Prediction,
                           early: list[Prediction]) -> bool:
    """Whether a turn with no date says what the caller wants from the call instead.

    The date question's own labels have no "cancel": "I need to cancel my appointment" is
    read there as an opt-out (0.70 sure), while the flow's first question reads it as a
    cancellation (0.9999) and "Stop calling me" as an opt-out (0.9999) beside a weak
    cancellation (0.61). So a request the first question is all but sure of wins over an
    opt-out that is not; any clear request wins over a turn the date question cannot
    read ("other", a question, or nothing it is sure of)."""
    if not early or early[0].label == lookahead.NONE or early[0].confidence < agent.services.strong:
        return False
    if main.label == "stop":
        return early[0].confidence >= EARLY_SURE and main.confidence < STOP_SURE
    return main.label in ("other", "question") or not _understood(agent, main)


def _keypad_date(text: str) -> str:
    """Eight keyed digits are a date: MMDDYYYY (day-first is tried too)."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 8 and re.fullmatch(r"[\d\s]+", text):
        return f"{digits[:2]}/{digits[2:4]}/{digits[4:]}"
    return text


def contact_birth_date(agent: FlowAgent) -> date | None:
    try:
        return date.fromisoformat(str(agent.setup.contact.get("date_of_birth"))[:10])
    except ValueError:
        return None


def check_birth_date(agent: FlowAgent, heard: list[date]) -> None:
    expected = contact_birth_date(agent)
    if expected is not None and expected in heard:
        agent.state.verified = True
        agent.say_line("verified")
        agent.goto(agent.flow.start)
    else:
        _missed_verification(agent)


def _missed_verification(agent: FlowAgent, retry: str = "verify_retry") -> None:
    """A wrong date, or no date at all: the question once more, then the end."""
    agent.state.verify_misses += 1
    if agent.state.verify_misses >= 2:
        agent.finish_with(NOT_VERIFIED, "not_verified")
    else:
        agent.say_line(retry)
        if agent.setup.keypad:
            agent.say_line("verify_keypad")


# -- the flow's steps ---------------------------------------------------------------


async def _flow_step(agent: FlowAgent, text: str) -> None:
    spec = agent.step_spec()
    assert spec is not None
    topics = lookahead.topic_steps(agent, text, exclude=agent.state.step)
    own = lookahead.without_topics(agent, text, topics)
    read, others = await _read(agent, _main_request(agent, own or text),
                               *lookahead.topic_requests(agent, text, agent.state.step))
    main = read.main
    if choice := lookahead.other_choice_answer(own or text, spec):
        main = Prediction(choice, 1.0, {choice: 1.0})
    lookahead.keep_topics(agent, topics, others)
    if not own:  # only answers to questions still to come: this one is still open
        agent.reprompt()
    elif spec.collect:
        _collect(agent, spec, text, main)
    elif (main.label == "question" and _understood(agent, main)) or _asks_instead(text, main):
        agent.answer_question(text)
        agent.reprompt()
    elif main.label in spec.intents and _understood(agent, main):
        agent.state.misunderstood_in_a_row = 0
        if read.asked:  # "Is there parking? Then yes, I'll be there."
            agent.answer_question(read.asked, unknown_unsaid=True)
        lookahead.keep_wish(agent, spec.intents[main.label], text)
        agent.run(spec.intents[main.label].then, text)
    elif main.label in GLOBAL_LABELS and _understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        not_understood(agent, text)


def _asks_instead(text: str, main: Prediction) -> bool:
    """A turn of nothing but questions is no yes or no, whatever words it holds ("Before I
    say yes, is there anywhere to park?"), unless it is a bare one ("Sure, why not?")."""
    return main.label in ("yes", "no") and not lookahead.statements(text) \
        and bare_answer(text) is None


def _collect(agent: FlowAgent, spec: Step, text: str, main: Prediction) -> None:
    # A day or a time said as a question ("Do you have anything on Saturday?") still answers
    # the question of when; only a caller leaving the flow takes precedence over it.
    blocking = reading.URGENT if spec.collect in _WHEN else _INTERRUPTING
    strong_global = main.label in blocking and main.confidence >= agent.services.strong
    if not strong_global and _collected(agent, spec, text, main):
        agent.state.misunderstood_in_a_row = 0
        return
    if main.label in spec.intents and _understood(agent, main):
        agent.run(spec.intents[main.label].then, text)
    elif main.label in GLOBAL_LABELS and _understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        not_understood(agent, text)


def _collected(agent: FlowAgent, spec: Step, text: str, main: Prediction) -> bool:
    """Fill the step's slot from ``text`` if it holds one; run the step's ``then``."""
    if spec.collect == "text":
        if main.label in spec.intents and _understood(agent, main):
            return False
        agent.run(spec.then, text)
        return True
    if spec.collect == "slot_choice":
        chosen = actions.choose_slot(agent, text)
        if chosen is not None:
            agent.state.slots["appointment_start"] = chosen
            agent.run(spec.then, text)
            return True
    wish = parse_preference(text, agent.setup.now)
    if wish.empty or (main.label in spec.intents and _understood(agent, main)
                      and spec.collect == "slot_choice"):
        return False
    agent.state.preference = wish
    if spec.collect == "preference":
        agent.run(spec.then, text)
    else:
        actions.offer_slots(agent)  # a new wish while choosing: offer again
    return True


# -- the close ------------------------------------------------------------------------


async def _anything_else(agent: FlowAgent, text: str) -> None:
    read = (await _read(agent, _main_request(agent, text)))[0]
    main = read.main
    if not _understood(agent, main):
        not_understood(agent, text)
    elif main.label == "no":
        agent.say_line("goodbye")
        agent.end()
    elif main.label == "yes" and read.asked:  # "Yes, actually. What time do you open?"
        agent.handle_global("question", read.asked)
    elif main.label == "yes":
        agent.say_line("what_else")
    elif main.label == "later":
        agent.say_line("goodbye")
        agent.end()
    else:
        agent.handle_global(main.label, text)


def callback(agent: FlowAgent, text: str) -> None:
    lowered = text.lower()
    when = next((phrase for phrase in _CALLBACK_WHEN if phrase in lowered), None)
    if when is None:
        day = next((d for d in _WEEKDAYS if d in lowered), None)
        when = f"on {day.capitalize()}" if day else "later"
    if agent.state.outcome is not None:
        agent.say_line("goodbye")
        agent.end()
        return
    agent.set_outcome(CALLBACK_REQUESTED)
    agent.state.slots["callback_when"] = when
    agent.say_line("callback", when=when)
    agent.after_outcome()


def not_understood(agent: FlowAgent, text: str = "") -> None:
    """The turn read as nothing the step knows: a question the organization's passages
    answer is answered ("Oh wait, do you guys take Blue Shield?" after the appointment was
    confirmed); otherwise the caller is asked again, and after three in a row handed to a
    person."""
    if agent.state.verified and lookahead.questions(text) \
            and agent.answer_question(text, unknown_unsaid=True):
        agent.state.misunderstood_in_a_row = 0
        reprompt(agent)
        return
    agent.state.misunderstood_in_a_row += 1
    if agent.state.misunderstood_in_a_row >= 3:
        agent.transfer_to_person("too_many_misunderstandings")
        return
    agent.say_line("not_understood")
    reprompt(agent)


def reprompt(agent: FlowAgent) -> None:
    step = agent.state.step
    if step in BUILT_IN_QUESTION:
        agent.say_line(BUILT_IN_QUESTION[step])
    elif step != "end":
        agent.say(agent.question_of(step))


def enter(agent: FlowAgent, name: str, *, announce: bool) -> None:
    """What happens on arriving at a step."""
    if name == "verify":
        heard, agent.state.heard_birth_dates = agent.state.heard_birth_dates, []
        check_birth_date(agent, heard) if heard else agent.say_line("verify")
        return
    if name == "anything_else":
        agent.say_line("anything_else")
        return
    if name == "end":
        agent.end()
        return
    spec = agent.flow.steps[name]
    if name == agent.flow.start and agent.state.pending_intent in spec.intents:
        # What the caller asked for early, once they have heard what it is about: the
        # step's details without its question, then the intent's effects.
        intent, agent.state.pending_intent = agent.state.pending_intent, None
        if spec.say and announce:
            agent.say(lookahead.statements(spec.say))
        agent.run(spec.intents[intent].then, agent.state.pending_words)
    elif _already_known(agent, spec):
        _skip(agent, spec)
    elif spec.say or spec.intents:
        if spec.say and announce:
            agent.say(spec.say)
    else:
        agent.run(spec.then)


def _already_known(agent: FlowAgent, spec: Step) -> bool:
    if spec.skip_if == "preference":
        return agent.state.preference is not None and not agent.state.preference.empty
    return spec.skip_if is not None and spec.skip_if in agent.state.slots


def _skip(agent: FlowAgent, spec: Step) -> None:
    if spec.slot and spec.slot in agent.state.slots:
        answer = "yes" if agent.state.slots[spec.slot] else "no"
        effects = [e for e in spec.intents[answer].then if e.say is None]
        agent.run(effects)
    else:
        agent.run(spec.then)
