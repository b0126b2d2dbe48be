"""Training data for the default router of the sample organizations.

An inbound chat or call without a known purpose is routed from its first message to one of
the three domain agents (``welcome_call`` for the bank, ``renewal_reminder`` for the
insurer, ``appointment_confirmation`` for the clinic), to a knowledge answer
(``general_question``), to a person (``human``), or recognised as ``out_of_scope``.

Each label has core phrasings with slots (days, doctors, policy types, ...). Examples are
varied the way first messages are (greetings, hesitations, politeness, transcriber style
without capitals or punctuation) and are reproducible from a seed. Every fourth core
phrasing is held out of the training split, so the test split measures paraphrases the
router never saw rather than recall of its own training sentences.
"""

from __future__ import annotations

import random
import re

from dialog.router_data import Example

OUT_OF_SCOPE = "out_of_scope"
CORES: dict[str, tuple[str, ...]] = {
    "welcome_call": (
        "I just opened a {product} with you and got a message to call",
        "I missed a call from the bank about my new {product}",
        "my new debit card arrived, what do I do now",
        "I'm a new customer, how do I set up paperless statements",
        "can I turn on text alerts for my new account",
        "I'm calling back about the welcome call for my account",
        "I got a welcome letter from the bank and have a few questions",
        "I opened an account last week and haven't received my card yet",
        "how do I activate the card for my new {product}",
        "you left a voicemail about my new checking account",
        "I want to go paperless on my new account",
        "I just became a customer at your bank and wanted to get set up",
        "my welcome pack came but there was no PIN in it",
        "someone from the bank called to welcome me, returning that call",
        "I'd like SMS alerts on the account I just opened",
        "new account holder here, what are the next steps",
    ),
    "renewal_reminder": (
        "I got a renewal notice for my {policy} insurance",
        "my {policy} policy expires {when}",
        "what will my renewal premium be",
        "I don't want to renew my {policy} policy",
        "why did my premium go up at renewal",
        "I'd like to renew my {policy} insurance",
        "you called me about renewing my policy",
        "my insurance is about to run out, can I keep it",
        "I received a letter saying my cover ends {when}",
        "I'm thinking of cancelling instead of renewing",
        "can I renew my {policy} cover for another year",
        "the renewal price is too high, I found a cheaper quote",
        "is my policy going to renew automatically",
        "I'm returning a call about my policy renewal",
        "how much is it to renew my {policy} policy",
        "I want to let my {policy} policy lapse",
    ),
    "appointment_confirmation": (
        "I need to confirm my appointment on {day}",
        "can I reschedule my appointment with {provider}",
        "I have to cancel my appointment {when}",
        "what time is my appointment with {provider}",
        "you called me about my appointment",
        "I can't make it on {day}, can we move it",
        "I'm calling to confirm I'll be at my {day} appointment",
        "is my appointment with {provider} still on",
        "I got a text reminder about an appointment at {time}",
        "I'd like an earlier slot than {day} at {time}",
        "please cancel my visit with {provider}",
        "I'm running late for my {time} appointment",
        "can you move my checkup to next week",
        "I need to change the time of my appointment",
        "returning your call about my booking at the clinic",
        "will I still be seen if I come on {day} instead",
    ),
    "general_question": (
        "what are your opening hours on {day}",
        "where is your nearest branch",
        "is there parking at the clinic",
        "do you accept walk-ins",
        "what documents should I bring",
        "how do I reset my online banking password",
        "what's your address",
        "do you take my health insurance",
        "how do I file a claim",
        "are you open on public holidays",
        "what is the interest rate on your savings account",
        "how long does a claim take to be paid",
        "do you have wheelchair access",
        "can I pay my bill online",
        "how do I update my mailing address",
        "what's the fee for an international transfer",
    ),
    "human": (
        "let me talk to a person",
        "can I speak to a real person please",
        "agent",
        "I want to speak to a representative",
        "operator",
        "transfer me to someone",
        "I don't want to talk to a machine",
        "get me a human",
        "I'd like to speak with your manager",
        "can someone call me back",
        "put me through to customer service",
        "is there anyone I can actually talk to",
        "I want to make a complaint to a person",
        "stop, I need a real agent",
        "connect me to a staff member",
        "representative please",
    ),
    OUT_OF_SCOPE: (
        "what's the weather like {when}",
        "tell me a joke",
        "who won the game last night",
        "order me a pizza",
        "what is the capital of France",
        "play some music",
        "can you help me with my homework",
        "how do I bake sourdough bread",
        "book me a flight to Paris",
        "what's the best movie this year",
        "translate this into Spanish for me",
        "how tall is Mount Everest",
        "recommend a good restaurant nearby",
        "what time does the football match start",
        "set an alarm for seven",
        "write me a poem about the sea",
    ),
}
SLOTS = {
    "product": ("checking account", "savings account", "account", "student account",
                "current account"),
    "policy": ("home", "car", "auto", "renters", "life", "travel", "contents"),
    "when": ("tomorrow", "next week", "on Friday", "next month", "at the end of the month",
             "this weekend", "today"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "the 14th"),
    "provider": ("Dr. Patel", "Dr. Nguyen", "doctor Okafor", "Dr. Smith", "the dentist",
                 "nurse Garcia"),
    "time": ("9 am", "10:30", "half past two", "three thirty", "4 pm", "noon"),
}
OPENERS = ("", "", "", "hi, ", "hello, ", "good morning, ", "yes hi, ", "um, ", "hey, ",
           "hi there, ", "uh, hello, ", "sorry, ", "so ", "ok so ")
CLOSERS = ("", "", "", " please", ", thanks", " thank you", ", can you help", "?", ".",
           " if that's possible", ", it's urgent")
HELD_OUT_EVERY = 4


def sample_examples(split: str = "train", per_label: int = 100, seed: int = 7) -> list[Example]:
    """``per_label`` first messages for every label, from the train or test phrasings."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    rng = random.Random(f"{seed}:{split}")
    examples: list[Example] = []
    for label, cores in CORES.items():
        held_out = cores[HELD_OUT_EVERY - 1::HELD_OUT_EVERY]
        chosen = held_out if split == "test" else tuple(c for c in cores if c not in held_out)
        seen: set[str] = set()
        for _ in range(per_label * 20):
            if len(seen) >= per_label:
                break
            text = _vary(_fill(rng.choice(chosen), rng), rng)
            if text not in seen:
                seen.add(text)
                examples.append(Example(text, label))
    rng.shuffle(examples)
    return examples


def _fill(core: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: rng.choice(SLOTS[match.group(1)]), core)


def _vary(core: str, rng: random.Random) -> str:
    closer = rng.choice(CLOSERS)
    text = f"{rng.choice(OPENERS)}{core}{closer}"
    if not closer.endswith(("?", ".")) and rng.random() < 0.5:
        text += "?" if core.split()[0] in _QUESTION_WORDS else "."
    if rng.random() < 0.3:  # the way a transcriber writes speech
        text = re.sub(r"[^\w\s']", "", text.lower())
    else:
        text = text[0].upper() + text[1:]
    return " ".join(text.split())


_QUESTION_WORDS = {"what", "what's", "where", "how", "can", "is", "do", "will", "why", "who",
                   "are", "could"}
