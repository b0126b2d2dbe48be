"""Spoken tracking benchmark: the hand-labelled caller turns of the dialog benchmark, said
by espeak-ng over an 8 kHz mu-law line (the voice `app eval --voice` uses) and transcribed
by Whisper with no hint, then tracked. Each tracker's accuracy on what was heard is
compared with its accuracy on the typed turns in the same run, so the cost of mishearing is
a number, and so is what training on the recognizer's readings (`app slm hear`) buys back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from app.caller_voice import on_the_line
from app.config import Settings
from app.model_loading import load_asr
from dialog.catalog import common_lines, load_flows
from dialog.tracker_eval import load_requests, score
from tests.benchmarks.dialog_bench import TURNS, trackers

COMPARED = ("agents_tracker", "slm_fine_tuned", "non_slm_baseline")


def _heard(utterances: list[str], settings: Settings, report: Callable[[str], None]) -> list[str]:
    asr = load_asr(threads=settings.voice.asr_threads)
    heard = []
    for index, text in enumerate(utterances, start=1):
        heard.append(asr.transcribe(on_the_line(text)).text)
        if index % 25 == 0:
            report(f"heard {index}/{len(utterances)} turns")
    return heard


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    typed = load_requests(TURNS, load_flows(), common_lines())
    heard_texts = _heard([request.utterance for _, request, _ in typed], settings, report)
    spoken = [(context, replace(request, utterance=text), label)
              for (context, request, label), text in zip(typed, heard_texts, strict=True)]
    word_for_word = sum(_plain(r.utterance) == _plain(t) for (_, r, _), t
                        in zip(typed, heard_texts, strict=True))
    figures: dict[str, Any] = {"turns": len(typed), "heard_word_for_word": word_for_word}
    makers = trackers(settings)
    for name in COMPARED:
        report(f"tracking typed and heard turns: {name}")
        tracker = makers[name]()
        on_text, on_speech = score(tracker, typed), score(tracker, spoken)
        figures[name] = {"typed_accuracy": round(on_text.accuracy, 4),
                         "heard_accuracy": round(on_speech.accuracy, 4),
                         "heard_mistakes": [list(m) for m in on_speech.mistakes[:15]]}
    return figures


def _plain(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())
