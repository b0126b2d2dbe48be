"""Chat shorthand spelled out: "busy rn can u call me tmrw" reads as "busy right now can
you call me tomorrow".

Web-chat callers type the way they text, and every reader after this (the tracker, the date
and time parsers, the polarity words) was built on words as said. Only whole words that are
shorthand and nothing else are rewritten ("u", "tmrw", "thru"); letters that may stand for
more than one word ("y": yes or why, "k") and the readers' own typed words ("thx", "yeh")
are left alone.
"""

from __future__ import annotations

import re

SHORTHAND = {
    "u": "you", "ur": "your", "rn": "right now", "atm": "at the moment",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "tomoz": "tomorrow",
    "2moro": "tomorrow", "2morrow": "tomorrow", "2day": "today", "tdy": "today",
    "tonite": "tonight", "b4": "before", "l8r": "later", "ltr": "later", "thru": "through",
    "abt": "about", "bc": "because", "bcz": "because", "cuz": "because", "coz": "because",
    "cos": "because", "idk": "I don't know", "idc": "I don't care", "dunno": "don't know",
    "wanna": "want to", "gonna": "going to", "gotta": "got to", "lemme": "let me",
    "gimme": "give me", "msg": "message", "msgs": "messages", "txt": "text", "txts": "texts",
    "bday": "birthday", "appt": "appointment", "mins": "minutes",
    "pls": "please", "plz": "please", "ppl": "people",
    "wk": "week", "nxt": "next", "w/": "with", "w/o": "without", "asap": "as soon as possible",
    "im": "I'm", "ive": "I've", "dont": "don't", "cant": "can't", "wont": "won't",
    "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't", "thats": "that's",
    "whats": "what's", "theres": "there's",
}
_SHORTHAND = re.compile(
    r"(?<![\w'])(" + "|".join(re.escape(word) for word in sorted(SHORTHAND, key=len,
                                                                   reverse=True))
    + r")(?![\w'/]|\.\w)", re.IGNORECASE)


def spelled_out(text: str) -> str:
    """``text`` with chat shorthand written out in full."""
    return _SHORTHAND.sub(lambda match: SHORTHAND[match[1].lower()], text)
