"""`python -m app call` end to end: espeak-ng caller, 8 kHz mu-law, the real models."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.agents import GOODBYE, GREETING, SCRIPT, STORY
from tests.conftest import run_app
from tests.speech import active_spans, speak, timeline, words
from voice.codecs import Encoding, resample
from voice.wavfile import read_wav, write_wav

pytestmark = pytest.mark.slow
AGENT = "tests.agents:ScriptedAgent"
RATE = 8000


def write_caller(path: Path, parts: list[tuple[float, str]], total_s: float) -> dict[str, float]:
    """Caller lines spoken at the given seconds; returns each line's speech start."""
    clips = [(start, speak(text, RATE)) for start, text in parts]
    write_wav(path, timeline(clips, total_s, RATE), RATE, Encoding.MULAW)
    starts = {}
    for (start, clip), (_, text) in zip(clips, parts, strict=True):
        first_sound = np.flatnonzero(np.abs(clip) > 300)[0] / RATE
        starts[text] = start + first_sound
    return starts


def transcribe_spans(recognizer, path: Path) -> list[tuple[float, float, str]]:
    clip = read_wav(path)
    out = []
    for start, end in active_spans(clip.samples, clip.sample_rate, min_gap_s=0.8):
        piece = clip.samples[int(start * clip.sample_rate): int(end * clip.sample_rate)]
        text = recognizer.transcribe(resample(piece, clip.sample_rate, 16000)).text
        out.append((start, end, text))
    return out


def overlap(expected: str, heard: str) -> float:
    want = set(words(expected))
    return len(want & set(words(heard))) / len(want)


def test_call_at_8khz_mulaw_agent_words_come_back(tmp_path: Path, speech_models):
    caller = tmp_path / "caller.wav"
    write_caller(caller, [(7.0, "Hello, I would like to confirm my appointment please."),
                          (15.0, "No, that is all. Goodbye.")], 22.0)
    out, transcript = tmp_path / "agent.wav", tmp_path / "t.json"
    result = run_app("call", "--agent", AGENT, "--in", str(caller), "--out", str(out),
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr

    agent_clip = read_wav(out)
    assert agent_clip.sample_rate == RATE and agent_clip.source.encoding is Encoding.MULAW
    heard = transcribe_spans(speech_models.recognizer, out)
    said = [GREETING, SCRIPT[0], GOODBYE]
    for line in said:
        best = max(overlap(line, text) for _, _, text in heard)
        assert best >= 0.7, f"{line!r} not heard back in {heard}"

    data = json.loads(transcript.read_text())
    assert data["ended_by"] == "agent"
    speech_turns = [t for t in data["turns"] if t["caller_event"] == "speech"]
    # A pause inside a line may split it into two turns; each answered one has every mark.
    answered = [t for t in speech_turns if t["marks"]["first_agent_audio"] is not None]
    assert len(answered) >= 2
    for turn in answered:
        marks = turn["marks"]
        order = [marks["caller_speech_end"], marks["transcript_final"],
                 marks["reply_text_ready"], marks["first_agent_audio"]]
        assert None not in order and order == sorted(order), marks
        assert 0 < turn["response_latency_ms"] < 3000
    assert data["response_latency_ms"]["n"] == len(answered)


def test_caller_barging_in_stops_the_agent_within_300ms(tmp_path: Path):
    caller = tmp_path / "caller.wav"
    question = "Hi. Where can I park, and what should I bring?"
    interruption = "Sorry, stop please."
    clip_q = speak(question, RATE)
    barge_at = 7.0 + len(clip_q) / RATE + 5.0  # well inside the agent's long answer
    starts = write_caller(caller, [(7.0, question), (barge_at, interruption)], barge_at + 6)
    out, transcript = tmp_path / "agent.wav", tmp_path / "t.json"
    result = run_app("call", "--agent", AGENT, "--in", str(caller), "--out", str(out),
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr

    data = json.loads(transcript.read_text())
    story_turn = next(t for t in data["turns"] if t["agent"] == STORY)
    assert story_turn["interrupted"]
    agent = read_wav(out)
    speech_start = starts[interruption]
    speech_end = speech_start + len(speak(interruption, RATE)) / RATE
    spans = active_spans(agent.samples, agent.sample_rate, min_gap_s=0.05)
    # The agent was mid-answer (a pause between words may fall on the caller's first word).
    assert any(s < speech_start and e > speech_start - 0.5 for s, e in spans), spans
    last_sound = max(e for s, e in spans if s < speech_start + 0.3)
    stopped_after = last_sound - speech_start
    assert stopped_after <= 0.3, f"agent went on {stopped_after * 1000:.0f} ms over the caller"
    # ... and stayed quiet while the caller spoke.
    assert not [(s, e) for s, e in spans if speech_start + 0.3 <= s < speech_end], spans
    # The interruption itself was answered.
    assert any(t["caller_event"] == "speech" and t["index"] > story_turn["index"]
               for t in data["turns"])


def test_fast_mode_holds_the_same_conversation(tmp_path: Path):
    caller = tmp_path / "caller.wav"
    write_caller(caller, [(1.0, "Hello there."), (4.0, "That is all, goodbye.")], 30.0)
    out, transcript = tmp_path / "agent.wav", tmp_path / "t.json"
    result = run_app("call", "--fast", "--agent", AGENT, "--in", str(caller), "--out", str(out),
                     "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    data = json.loads(transcript.read_text())
    assert data["mode"] == "fast" and data["ended_by"] == "agent"
    assert [t["agent"] for t in data["turns"] if t["agent"]] == [GREETING, SCRIPT[0], GOODBYE]
