"""Voice benchmark: response latency of real-time calls, and each model on its own.

Every figure is compared with a baseline measured in the same run:
- response latency and ASR time: Whisper's own 30 s window (what faster-whisper does)
  against the project's short window;
- SLM: transformers generate on the dequantized checkpoint against CTranslate2 int8, same
  prompt, same greedy decoding.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import psutil

from app.bridge import DialogueResponder
from app.channels.wav_call import hold_wav_call
from app.config import Settings
from app.model_loading import load_asr, load_speech_models, prepared_slm
from dialog.agent import ConversationSetup
from dialog.slm import SmallLanguageModel, chat_prompt
from tests.agents import ScriptedAgent
from tests.speech import active_spans, speak, timeline
from voice.codecs import Encoding, mulaw_decode, mulaw_encode, resample
from voice.config import VoiceConfig
from voice.latency import summarize
from voice.session import SpeechModels
from voice.wavfile import AudioClip, WavFormat

CALLER_LINES = (
    "Yes, this is Maria speaking.",
    "Who is calling, please?",
    "My date of birth is March twelfth, nineteen eighty four.",
    "I can't make it on Thursday. Can we move it?",
    "Yes, I will be there.",
    "Can I talk to a real person?",
    "The first one works for me.",
    "Wednesday afternoon at three thirty.",
    "No, I don't want to renew the policy.",
    "I haven't received the card yet.",
    "Sure, paperless statements sound good.",
    "No thanks, I don't want text alerts.",
    "Call me back tomorrow morning.",
    "What are your opening hours on Saturday?",
    "Let me think about it.",
    "Yeah, that's fine.",
    "I'm her husband. She's not home right now.",
    "You have the wrong number.",
    "Is there parking at the clinic?",
    "Thank you, that's all I needed.",
    "Can you repeat that, please?",
    "How much is the renewal premium?",
)
AGENT_LINES = (
    "Thank you. Your appointment is confirmed for Tuesday morning.",
    "For your privacy, could you confirm your date of birth?",
    "Would you like paperless statements?",
    "Is there anything else I can help you with?",
)
SLM_PROMPT = [
    {"role": "system", "content": "You track a phone call. Answer with one word."},
    {"role": "user", "content": "The agent asked: Will you be able to make it? "
                                "The caller said: Yeah I'll be there. Is that yes or no?"},
]
BARGE_QUESTION = "Where can I park, and what should I bring?"  # the test agent's long answer
BARGE_INTERRUPTION = "Sorry, stop, please."
TURN_GAP_S = 4.5  # after each caller line: room for the agent's reply
RATE = 8000


class PeakRss:
    """Samples this process's resident memory every 50 ms in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)


def caller_recording() -> tuple[np.ndarray, float]:
    """All caller lines at 8 kHz through mu-law, spaced for the agent's replies."""
    parts, at = [], 6.0  # the greeting plays first
    for line in CALLER_LINES:
        clip = speak(line, RATE)
        parts.append((at, clip))
        at += len(clip) / RATE + TURN_GAP_S
    pcm = mulaw_decode(mulaw_encode(timeline(parts, at + 2.0, RATE)))
    return pcm, at + 2.0


def _clip(pcm: np.ndarray) -> AudioClip:
    fmt = WavFormat(RATE, 1, Encoding.MULAW, 1, len(pcm))
    return AudioClip(pcm, RATE, fmt)


def run_call(models: SpeechModels, config: VoiceConfig, pcm: np.ndarray) -> dict[str, Any]:
    agent = ScriptedAgent(ConversationSetup({}, {}, datetime.now().astimezone()))
    result = asyncio.run(hold_wav_call(_clip(pcm), DialogueResponder(agent), models, config))
    turns = [t for t in result.turns if t.caller_event == "speech"]
    stages: dict[str, list[float]] = {"vad_to_transcript": [], "transcript_to_reply": [],
                                      "reply_to_audio": [], "response": []}
    for turn in turns:
        marks = turn.marks
        if marks.response_latency is None or marks.transcript_final is None:
            continue
        assert marks.caller_speech_end is not None and marks.reply_text_ready is not None
        assert marks.first_agent_audio is not None
        stages["response"].append(marks.response_latency)
        stages["vad_to_transcript"].append(marks.transcript_final - marks.caller_speech_end)
        stages["transcript_to_reply"].append(marks.reply_text_ready - marks.transcript_final)
        stages["reply_to_audio"].append(marks.first_agent_audio - marks.reply_text_ready)
    return {
        "caller_turns": len(CALLER_LINES),
        "answered_turns": len(stages["response"]),
        "caller_speech_end_to_first_agent_audio_ms": summarize(stages["response"], unit_scale=1000),
        "stages_ms": {name: summarize(values, unit_scale=1000)
                      for name, values in stages.items() if name != "response"},
        "ended_by": result.ended_by,
    }


def barge_in(models: SpeechModels, config: VoiceConfig, rounds: int = 6) -> dict[str, Any]:
    """The caller asks a question with a long answer, then talks over it: how long the
    agent's audio goes on after the caller's first sound (on the output timeline)."""
    question, interruption = speak(BARGE_QUESTION, RATE), speak(BARGE_INTERRUPTION, RATE)
    parts, starts, at = [], [], 6.0
    for _ in range(rounds):
        parts.append((at, question))
        barge = at + len(question) / RATE + 4.0
        parts.append((barge, interruption))
        starts.append(barge + np.flatnonzero(np.abs(interruption) > 300)[0] / RATE)
        at = barge + len(interruption) / RATE + 6.0
    pcm = mulaw_decode(mulaw_encode(timeline(parts, at, RATE)))
    agent = ScriptedAgent(ConversationSetup({}, {}, datetime.now().astimezone()))
    result = asyncio.run(hold_wav_call(_clip(pcm), DialogueResponder(agent), models, config))
    spans = active_spans(result.agent_track, result.sample_rate, min_gap_s=0.05)
    delays = []
    for start in starts:
        if any(s < start and e > start - 0.5 for s, e in spans):  # the agent was talking
            delays.append(max(e for s, e in spans if s < start + 0.3) - start)
    return {"interruptions": rounds, "agent_was_talking": len(delays),
            "agent_audio_after_caller_speech_start_ms": summarize(delays, unit_scale=1000)}


def asr_times(pcm_lines: list[np.ndarray], window_s: float) -> dict[str, Any]:
    recognizer = load_asr(min_window_s=window_s)
    recognizer.transcribe(pcm_lines[0])
    durations = [recognizer.transcribe(line).decode_s for line in pcm_lines]
    return summarize(durations, unit_scale=1000)


def tts_first_audio(models: SpeechModels) -> dict[str, Any]:
    firsts, factors = [], []
    for line in AGENT_LINES * 3:
        started = time.perf_counter()
        sentences = models.synthesizer.sentences(line)
        first = next(sentences)
        firsts.append(time.perf_counter() - started)
        audio = np.concatenate([first, *sentences])
        factors.append((time.perf_counter() - started) / (len(audio) / 22050))
    return {"time_to_first_audio_ms": summarize(firsts, unit_scale=1000),
            "real_time_factor_p50": round(float(np.median(factors)), 3)}


def slm_figures(settings: Settings, runs: int = 5) -> dict[str, Any]:
    entry = prepared_slm(settings.cache_dir)
    ct2 = SmallLanguageModel(entry.ct2_dir)
    prompt = chat_prompt(SLM_PROMPT)
    ct2.generate(prompt, max_tokens=32)
    ct2_runs = [ct2.generate(prompt, max_tokens=32) for _ in range(runs)]
    hf_runs = _transformers_runs(entry.hf_dir, SLM_PROMPT, runs)
    return {
        "prompt_tokens": len(ct2.tokens(prompt)),
        "ctranslate2_int8": {
            "first_token_ms": summarize([r.first_token_s for r in ct2_runs], unit_scale=1000),
            "tokens_per_s_p50": round(float(np.median([r.tokens_per_s for r in ct2_runs])), 1),
            "answer": ct2_runs[0].text.strip(),
        },
        "transformers_fp32": hf_runs,
    }


def _transformers_runs(hf_dir: Any, messages: list[dict[str, str]], runs: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    inputs = tokenizer(chat_prompt(messages), return_tensors="pt")
    firsts, rates, answer = [], [], ""
    for index in range(runs + 1):
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
        started = time.perf_counter()
        worker = threading.Thread(target=model.generate, kwargs={
            **inputs, "max_new_tokens": 32, "do_sample": False, "streamer": streamer,
            "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")})
        worker.start()
        first: float | None = None
        pieces = []
        for piece in streamer:
            first = first if first is not None else time.perf_counter() - started
            pieces.append(piece)
        worker.join()
        total = time.perf_counter() - started
        tokens = len(tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
        if index:  # the first run warms up
            firsts.append(first or total)
            rates.append(tokens / total)
        answer = "".join(pieces).replace("<|im_end|>", "").strip()
    return {"first_token_ms": summarize(firsts, unit_scale=1000),
            "tokens_per_s_p50": round(float(np.median(rates)), 1), "answer": answer}


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    pcm, duration = caller_recording()
    lines16k = [resample(speak(line, RATE), RATE, 16000) for line in CALLER_LINES]
    results: dict[str, Any] = {"caller_audio": "espeak-ng, 8 kHz mu-law",
                               "call_duration_s": round(duration, 1)}
    with PeakRss() as rss:
        config = settings.voice
        report(f"real-time call, {len(CALLER_LINES)} caller turns ({duration:.0f} s)")
        models = load_speech_models(config)
        results["call"] = run_call(models, config, pcm)
        results["peak_rss_mb_voice_call"] = rss.mb
        report("barge-in: the caller talks over a long answer")
        results["barge_in"] = barge_in(models, config)
        baseline = config.model_copy(update={"asr_min_window_s": 30.0})
        report("baseline call: Whisper's own 30 s window")
        results["baseline_call_whisper_30s_window"] = run_call(
            load_speech_models(baseline), baseline, pcm)
        report("ASR per utterance")
        results["asr_ms_per_utterance"] = {"short_window": asr_times(lines16k, 8.0),
                                           "whisper_30s_window": asr_times(lines16k, 30.0)}
        report("TTS time to first audio")
        results["tts"] = tts_first_audio(models)
        report("SLM: transformers against CTranslate2")
        results["slm"] = slm_figures(settings)
    results["peak_rss_mb"] = rss.mb
    return results
