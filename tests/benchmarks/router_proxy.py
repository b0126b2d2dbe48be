"""A proxy for a fine-grained intent benchmark, written here because the public one
(77 banking intents) is not in the repository.

77 intents of a bank, an insurer and a clinic (``router_proxy_intents``), as many as the
public benchmark has, chosen in groups of near neighbours the way real intent lists are (a
card that has not arrived / when a card will arrive / a card that does not work / a card
declined in a shop). At 130 training and 40 test examples an intent, the splits have the
public benchmark's size (10,010 and 3,080). Each intent has core phrasings with slots; the
examples add what first messages have: greetings, context, politeness, transcriber style
and typos. Every fourth core phrasing is kept for the test split only, so the test measures
paraphrases never seen in training.

What it can tell: whether one method beats another on many close labels, at full data and
at ten examples a label, and how long training and routing take at the benchmark's size.
What it cannot: the absolute accuracy on the public benchmark, whose phrasings are written
by many people, whose labels overlap and are sometimes wrong; templates are more regular.
"""

from __future__ import annotations

import random
import re

from dialog.router_data import Example
from tests.benchmarks.router_proxy_intents import INTENTS

FULL_PER_LABEL, TEST_PER_LABEL = 130, 40

SLOTS = {
    "card": ("card", "debit card", "bank card", "new card", "card"),
    "money": ("money", "funds", "cash", "£50", "some money"),
    "amount": ("£20", "$100", "50 euros", "£200", "$40"),
    "policy": ("home", "car", "travel", "contents", "pet", "life"),
    "provider": ("Dr. Patel", "the doctor", "Dr. Nguyen", "the nurse", "my GP"),
    "day": ("Monday", "Tuesday", "Friday", "the 12th", "Thursday"),
    "when": ("tomorrow", "next week", "this week", "today", "on Friday"),
}
OPENERS = ("", "", "", "", "hi, ", "hello, ", "hi there, ", "good morning, ", "um, ",
           "quick question, ", "hey, ", "excuse me, ", "sorry to bother you, ", "so ")
CONTEXT = ("", "", "", "", "", " urgently", " today", " - I'm abroad right now",
           " and I need it sorted today", ", this is the second time", " again")
CLOSERS = ("", "", "", "?", ".", " please", ", thanks", ", what should I do?",
           ", can you help?", ". Help!", " thank you")


def proxy_examples(split: str, per_label: int, seed: int = 7) -> list[Example]:
    """``per_label`` examples of every proxy intent, from its train or test phrasings."""
    rng = random.Random(f"proxy:{seed}:{split}")
    examples: list[Example] = []
    for label, joined in INTENTS.items():
        cores = joined.split("|")
        held_out = cores[3::4]
        chosen = held_out if split == "test" else [c for c in cores if c not in held_out]
        for _ in range(per_label):
            examples.append(Example(_vary(_fill(rng.choice(chosen), rng), rng), label))
    rng.shuffle(examples)
    return examples


def _fill(core: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: rng.choice(SLOTS[match.group(1)]), core)


def _vary(core: str, rng: random.Random) -> str:
    text = f"{rng.choice(OPENERS)}{core}{rng.choice(CONTEXT)}{rng.choice(CLOSERS)}"
    if rng.random() < 0.25:
        text = re.sub(r"[^\w\s'£$]", "", text.lower())
    if rng.random() < 0.2:
        text = _typo(text, rng)
    return " ".join(text.split())


def _typo(text: str, rng: random.Random) -> str:
    """One slip of the keyboard: a letter dropped, doubled or swapped with its neighbour."""
    positions = [i for i in range(1, len(text) - 1) if text[i].isalpha()]
    if not positions:
        return text
    i = rng.choice(positions)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1:]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]
