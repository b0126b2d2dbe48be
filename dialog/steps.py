"""What happens at each kind of step: the built-in opening (identify; the date-of-birth
check is ``dialog.verification``), the close (anything else), and the flow's own steps
(yes/no and choice steps, collected slots)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dialog import actions, lookahead, reading, verification
from dialog.dates import birth_dates, remove_birth_dates
from dialog.flow_spec import Step
from dialog.own_people import someone_else_answering
from dialog.polarity import bare_answer, leading_answer
from dialog.state import CALLBACK_REQUESTED, WRONG_PERSON
from dialog.time_preference import WEEKDAYS, parse_preference
from dialog.tracker import Prediction
from dialog.turn_reading import GLOBAL_LABELS, main_request, read_turn, understood

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

# The global labels that, surely said, interrupt a step collecting a free answer.
_INTERRUPTING = tuple(label for label in GLOBAL_LABELS if label != "other")
BUILT_IN_QUESTION = {"identify": "identify_question", "verify": "verify",
                      "anything_else": "anything_else"}
_CALLBACK_WHEN = ("tomorrow morning", "tomorrow afternoon", "tomorrow evening", "tomorrow",
                  "next week", "this evening", "tonight", "later today", "in an hour",
                  "this afternoon")
_WHEN = ("preference", "slot_choice")  # collected slots that say when
_HELLO = re.compile(r"\W*(?:(?:hello|hi|hey|hiya|hallo)\W*)+", re.IGNORECASE)


async def take_turn(agent: FlowAgent, text: str) -> None:
    step = agent.state.step
    if step == "identify":
        await _identify(agent, text)
    elif step == "verify":
        await verification.verify(agent, text)
    elif step == "anything_else":
        await _anything_else(agent, text)
    elif step != "end":
        await _flow_step(agent, text)


# -- the opening ----------------------------------------------------------------------


async def _identify(agent: FlowAgent, text: str) -> None:
    if _HELLO.fullmatch(text):  # "Hello?": they did not catch who is calling
        agent.say_line("greeting")
        return
    dobs = birth_dates(text, agent.setup.now.date())
    name = str(agent.setup.contact.get("name") or "")
    residue = lookahead.identity_residue(remove_birth_dates(text), name)
    read, early = await read_turn(agent, main_request(agent, text),
                                  *lookahead.early_requests(agent, residue))
    main = _answer_beside_who(agent, read)
    label = main.label
    refused = label in ("stop", "person", "not_them") and understood(agent, main)
    confirmed = lookahead.confirms_identity(text, name)
    if not confirmed and (someone_else_answering(text) or any(
            part.label == "not_them" and part.confidence >= agent.services.strong
            for _, part in read.parts)):
        # "He's not here, I'm his wife. ... I'll pass it on.": the last sentence is no yes
        label = "not_them"
    elif not refused and (dobs or not residue or (confirmed and (
            label in ("rude", "other") or not understood(agent, main)))):
        # a date of birth offered straight away, or words that confirm who they are
        # ("This is Priyanka.", "Kia ora, yes, that's me") with nothing else clear beside
        # them ("Yeah it's me, what the f*** do you want now?"): it is them
        label = "yes"
    elif not understood(agent, main):
        not_understood(agent, text)
        return
    agent.state.misunderstood_in_a_row = 0
    if label == "yes":
        if read.main.label == "who":  # "Who's this? Oh, yes, speaking."
            agent.say_line("who")
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


def _answer_beside_who(agent: FlowAgent, read: reading.Reading) -> Prediction:
    """A turn read as asking who is calling that, read whole or in a sentence, also
    answers who is there ("Who? No, there's no Cornelius here, you've got the wrong
    number."; "No, this is her husband, she's out. What's it about?"): the answer."""
    if read.main.label != "who":
        return read.main
    answers = [candidate for candidate in read.all_readings()
               if candidate.label in ("yes", "not_them") and understood(agent, candidate)]
    return answers[-1] if answers else read.main


# -- the flow's steps ---------------------------------------------------------------


async def _flow_step(agent: FlowAgent, text: str) -> None:
    spec = agent.step_spec()
    assert spec is not None
    topics = lookahead.topic_steps(agent, text, exclude=agent.state.step)
    own = lookahead.without_topics(agent, text, topics)
    read, others = await read_turn(agent, main_request(agent, own or text),
                                   *lookahead.topic_requests(agent, text, agent.state.step))
    main = _fuller_answer(agent, spec, read)
    if main.label not in reading.URGENT and (choice := lookahead.named_answer(own or text, spec)):
        main = Prediction(choice, 1.0, {choice: 1.0})
    lookahead.keep_topics(agent, topics, others)
    if main.label == "rude" and (answer := _answer_beside_abuse(agent, spec, own or text)):
        agent.hostile("abuse", reprompt=False)
        if agent.state.step == "end":
            return
        main = Prediction(answer, 1.0, {answer: 1.0})
    if not own:  # only answers to questions still to come: this one is still open
        agent.reprompt()
    elif spec.collect:
        _collect(agent, spec, text, main, read)
    elif (main.label == "question" and understood(agent, main)) or \
            _asks_instead(agent, spec, text, main):
        agent.answer_question(text)
        agent.reprompt()
    elif main.label in spec.intents and understood(agent, main):
        agent.state.misunderstood_in_a_row = 0
        if read.asked:  # "Is there parking? Then yes, I'll be there."
            agent.answer_question(read.asked, unknown_unsaid=True)
        lookahead.keep_wish(agent, spec.intents[main.label], text)
        agent.run(spec.intents[main.label].then, text)
    elif main.label in GLOBAL_LABELS and understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        not_understood(agent, text)


def _answer_beside_abuse(agent: FlowAgent, spec: Step, text: str) -> str | None:
    """The yes or no a turn read as abuse opens with, when it says what it answers ("Yes
    I got the card, you useless bloody robot."): warned about the abuse, the caller is
    still answered, not asked again."""
    answer = leading_answer(text)
    if answer in spec.intents and lookahead.names_step(agent, agent.state.step, text):
        return answer
    return None


def _fuller_answer(agent: FlowAgent, spec: Step, read: reading.Reading) -> Prediction:
    """The turn's answer, or one (the whole turn's or a sentence's) that also answers what
    that answer would be asked next: "Ah no, I won't bother. I've got it cheaper elsewhere."
    reads as a no, which goes on to ask why, but its second sentence gives the reason."""
    main = read.main
    intent = spec.intents.get(main.label)
    if intent is None:
        return main
    asked_next = {agent.flow.steps[effect.goto].skip_if for effect in intent.then
                  if effect.goto in agent.flow.steps} - {None}
    for candidate in read.all_readings():
        other = spec.intents.get(candidate.label)
        if other is not None and candidate.label != main.label and understood(agent, candidate) \
                and any(effect.set and asked_next & effect.set.keys() for effect in other.then):
            return candidate
    return main


def _asks_instead(agent: FlowAgent, spec: Step, text: str, main: Prediction) -> bool:
    """A turn of nothing but questions is no yes or no, whatever words it holds ("Before I
    say yes, is there anywhere to park?"), unless it is a bare one ("Sure, why not?").

    Nor is one that asks why, whatever else it says, unless the rest answers in so many
    words: "Why did it go up?? I didn't make any claims" asks about the premium (read as a
    reason not to renew), where "Why so much? No, I won't renew then." answers."""
    rest = lookahead.statements(text)
    if main.label in ("yes", "no") and not rest and bare_answer(text) is None:
        return True
    return main.label in spec.intents and "why" not in spec.intents \
        and bool(lookahead.why_questions(text)) and leading_answer(rest) is None \
        and not (rest and lookahead.names_step(agent, agent.state.step, rest))


def _collect(agent: FlowAgent, spec: Step, text: str, main: Prediction,
             read: reading.Reading) -> None:
    # A day or a time said as a question ("Do you have anything on Saturday?") still answers
    # the question of when; only a caller leaving the flow takes precedence over it, and
    # in a turn of several sentences only when one of them says so: read whole, "Um,
    # Tuesday... no, sorry, Wednesday. Sometime after lunch." blurred into a call back.
    blocking = reading.URGENT if spec.collect in _WHEN else _INTERRUPTING
    said_apart = not read.parts or any(p.label == main.label and understood(agent, p)
                                       for _, p in read.parts)
    strong_global = main.label in blocking and main.confidence >= agent.services.strong \
        and said_apart
    if not strong_global and _collected(agent, spec, text, main):
        agent.state.misunderstood_in_a_row = 0
        return
    if main.label in spec.intents and understood(agent, main):
        agent.run(spec.intents[main.label].then, text)
    elif main.label in GLOBAL_LABELS and understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        not_understood(agent, text)


def _collected(agent: FlowAgent, spec: Step, text: str, main: Prediction) -> bool:
    """Fill the step's slot from ``text`` if it holds one; run the step's ``then``."""
    if spec.collect == "text":
        if main.label in spec.intents and understood(agent, main):
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
    if wish.empty or (main.label in spec.intents and understood(agent, main)
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
    read = (await read_turn(agent, main_request(agent, text)))[0]
    main = read.main
    if not understood(agent, main):
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
        day = next((d for d in WEEKDAYS if d in lowered), None)
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
        verification.check_birth_date(agent, heard) if heard else agent.say_line("verify")
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
