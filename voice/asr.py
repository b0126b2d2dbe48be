"""Speech recognition on faster-whisper (Whisper tiny.en, CTranslate2 int8), as a
livekit-agents ``stt.STT`` plugin.

Whisper is not a streaming model: livekit wraps this plugin in its VAD-driven stream adapter,
which calls ``_recognize_impl`` once per caller utterance. The blocking decode runs in a
worker thread so the event loop keeps moving audio for every other call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_ctranslate2_storage
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr

from voice.codecs import Resampler
from voice.errors import ModelUnavailableError
from voice.responder import AnswerCheck, ExpectedAnswer

WHISPER_RATE = 16000


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    audio_s: float
    decode_s: float


def load_whisper(model_dir: Path, *, threads: int = 2, workers: int = 1) -> WhisperModel:
    """Load the CTranslate2 Whisper model; ``workers`` decodes may run at once."""
    try:
        return WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                            cpu_threads=threads, num_workers=workers)
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelUnavailableError(f"cannot load Whisper from {model_dir}: {error}") from error


class WhisperRecognizer:
    """Blocking transcription of one utterance of 16 kHz int16 PCM.

    Whisper is trained on 30 s windows, and faster-whisper always encodes one: 0.47 s of
    the 0.6 s a short utterance costs here. Encoding only the utterance plus three seconds
    of silence (at least eight seconds in all) is four times faster at the same word error
    rate on this project's test speech (Piper and espeak-ng through 8 kHz mu-law), so that
    is what this does, with faster-whisper's feature extractor and tokenizer around
    CTranslate2's encoder and decoder. Less padding than that makes Whisper run on past
    the end of the speech.
    """

    padding_s = 3.0
    no_speech_threshold = 0.6
    # The decoding cap, against a model looping on noise. Fast speech with its punctuation
    # runs to 6 tokens a second (the agent's Piper lines: 45 tokens in 7.5 s); a cap of 6 cut
    # the last words off such lines.
    tokens_per_second = 10
    # Readings searched when an answer of a fixed form is due. On 80 random dates of birth
    # spoken in eight forms by espeak-ng through 8 kHz mu-law, the first date among eight
    # beam readings was the caller's 49 times, the greedy reading 30 (a wrong date: 23
    # against 21). It costs about 26 ms a decode.
    form_readings = 8
    # Confirming an expected answer from the audio (``_confirm``): it must beat every rival
    # by this much mean log-probability per token, and fall at most ``reading_gap`` below
    # the best reading. On the 96 dates of birth of ``make bench`` (phone_answers), said in
    # eight forms, the readings held the true date 51 times; confirmation adds 9 at a
    # margin of 0.1 but also took 3 of 96 dates said a day, a month or a year off for the
    # true one (near misses scored up to 0.25 above their rivals). At 0.3 it adds 4 (now,
    # with the two-digit-year forms of ``written_dates``, 8 to 56) and
    # takes none of the near misses, nor any of 96 other dates or answers that are not
    # dates: a caller misheard is asked again, a near guess must never verify. The gap is
    # 1.25, not 1.0: a date said with more after it ("..., 1999. I need to move my
    # appointment") is scored alone against a reading of the whole line, and fell exactly
    # 1.0 below it; at 1.25 the same 96 other answers are still none of them confirmed.
    rival_margin = 0.3
    reading_gap = 1.25

    def __init__(self, model: WhisperModel, *, min_window_s: float = 8.0,
                 beam_size: int = 1) -> None:
        self._model = model
        self.min_window_s = min_window_s
        # Greedy (1) unless told (``asr_beam_size``). Five beams read spoken dates of birth
        # right somewhat more often offline, but in calls they also repeated or dropped
        # short lines ("Goodbye.") where greedy decoding did not.
        self.beam_size = beam_size
        self._tokenizer = Tokenizer(model.hf_tokenizer, multilingual=False,
                                    task="transcribe", language="en")

    def transcribe(self, pcm16k: np.ndarray, prompt: str | None = None,
                   expects: AnswerCheck | None = None,
                   expected: ExpectedAnswer | None = None) -> Transcript:
        """The utterance's text. With ``expects`` (an answer of a fixed form is due, such as
        a date of birth), the first of ``form_readings`` beam-search readings that has that
        form, or else the best reading. The check only says whether a reading has the form,
        never whether it is right: which reading wins is still the model's order. With
        ``expected`` too, that answer when the audio confirms it (``_confirm``), with what
        was said after it.
        """
        started = time.perf_counter()
        audio_s = len(pcm16k) / WHISPER_RATE
        window = max(self.min_window_s, audio_s + self.padding_s)
        samples = int(np.ceil(window)) * WHISPER_RATE
        audio = np.zeros(samples, dtype=np.float32)
        clipped = pcm16k[:samples]
        audio[: len(clipped)] = clipped.astype(np.float32) / 32768.0
        features = self._model.feature_extractor(audio)[:, : samples // 160]
        encoded = self._model.model.encode(get_ctranslate2_storage(features[None]), to_cpu=False)
        prefix = self._prefix(prompt)
        readings = 1 if expects is None and expected is None else self.form_readings
        result = self._model.model.generate(
            encoded, [prefix], beam_size=max(self.beam_size, readings),
            num_hypotheses=readings, return_scores=True, return_no_speech_prob=True,
            max_length=len(prefix) + int(audio_s * self.tokens_per_second) + 8,
            suppress_blank=True, suppress_tokens=[-1],
        )[0]
        texts = [_drop_repeats(self._tokenizer.decode(
            [t for t in ids if t < self._tokenizer.eot]).strip()) for ids in result.sequences_ids]
        chosen = next((i for i, text in enumerate(texts) if expects and expects(text)), 0)
        text = texts[chosen]
        confidence = float(np.exp(result.scores[chosen])) if result.scores else 0.0
        if result.no_speech_prob > self.no_speech_threshold and confidence < 0.4:
            text = ""
        elif expected is not None and not expected.said_in(text):
            scorer = _AnswerScorer(self._model.model, self._tokenizer, encoded, prefix,
                                   samples // 160)
            confirmed = self._confirm(scorer, expected, texts, result.scores[0])
            if confirmed is not None:
                text = self._said_with(confirmed, encoded, prefix, audio_s, expected)
        return Transcript(text, confidence, audio_s, time.perf_counter() - started)

    def _said_with(self, answer: str, encoded: ctranslate2.StorageView, prefix: list[int],
                   audio_s: float, expected: ExpectedAnswer) -> str:
        """The confirmed ``answer`` and what the caller said after it in the same breath
        ("..., and I need to move my appointment"), which the readings that missed the
        answer may have heard right or wrong: Whisper decodes on from the answer, so the
        rest is read in its light. When the answer is all there was, that is what comes
        back."""
        forced = self._tokenizer.encode(" " + answer.rstrip("."))
        result = self._model.model.generate(
            encoded, [prefix + forced], beam_size=1, suppress_blank=True, suppress_tokens=[-1],
            max_length=len(prefix) + len(forced) + int(audio_s * self.tokens_per_second) + 8,
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        text = _drop_repeats(self._tokenizer.decode(ids).strip())
        return text if expected.said_in(text) else answer

    def _confirm(self, scorer: _AnswerScorer, expected: ExpectedAnswer,
                 readings: list[str], best_score: float) -> str | None:
        """The expected answer as written, if the audio says it rather than any rival.

        Beam search keeps the readings the model likes best, and over a phone line the true
        date can fall just outside them ("June 5th, 1990" read as "Thank you."). Scoring
        the expected answer against the audio finds it, but a likely-sounding date is not a
        verified one: it must also beat each near answer (a day, a month or a year off, and
        any date a reading holds) in the same written form, so a caller guessing close to
        the true date is heard as guessing, and it must not fall far below the best reading,
        so an answer that is not a date stays what it was.
        """
        written = list(expected.written())
        score, form = max((scorer.likelihood(text), form) for form, text in enumerate(written))
        if score < best_score - self.reading_gap:
            return None
        for rival in expected.rivals(form, readings):
            if scorer.likelihood(rival) > score - self.rival_margin:
                return None
        return written[form]

    def _prefix(self, prompt: str | None) -> list[int]:
        prefix: list[int] = []
        if prompt:
            prompt_ids = self._tokenizer.encode(" " + prompt.strip())[-100:]
            prefix = [self._tokenizer.sot_prev, *prompt_ids]
        return [*prefix, *self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]


@dataclass(frozen=True)
class _AnswerScorer:
    """How well candidate transcripts fit one encoded utterance."""

    model: ctranslate2.models.Whisper
    tokenizer: Tokenizer
    encoded: ctranslate2.StorageView
    prefix: list[int]
    frames: int

    def likelihood(self, text: str) -> float:
        """Mean log-probability per token of ``text`` as the transcript (teacher-forced)."""
        tokens = self.tokenizer.encode(" " + text.strip())
        result = self.model.align(self.encoded, self.prefix, [tokens], self.frames)[0]
        return float(np.mean(np.log(np.maximum(result.text_token_probs, 1e-9))))


def _drop_repeats(text: str, *, max_run: int = 4) -> str:
    """Cut a decoding loop ("goodbye goodbye goodbye ...") back to one occurrence.

    A phrase of up to four words said more than ``max_run`` times in a row is a Whisper
    loop, not speech; four in a row is kept ("zero zero zero zero" in a card number).
    """
    tokens = text.split()
    for size in range(1, 5):
        kept: list[str] = []
        index = 0
        while index < len(tokens):
            phrase = [t.strip(".,?!").lower() for t in tokens[index: index + size]]
            run = 1
            while [t.strip(".,?!").lower()
                   for t in tokens[index + run * size: index + (run + 1) * size]] == phrase:
                run += 1
            if run > max_run:
                kept.extend(tokens[index: index + size])
                index += run * size
            else:
                kept.append(tokens[index])
                index += 1
        tokens = kept
    return " ".join(tokens)


class WhisperSTT(stt.STT):
    """livekit-agents STT plugin: one final transcript per utterance."""

    def __init__(self, recognizer: WhisperRecognizer, *, prompt: str | None = None) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._recognizer = recognizer
        self.prompt = prompt
        self.expects: AnswerCheck | None = None
        self.expected: ExpectedAnswer | None = None

    @property
    def model(self) -> str:
        return "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = utils.combine_frames(buffer)
        pcm = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            pcm = pcm.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        resampler = Resampler(frame.sample_rate, WHISPER_RATE)
        pcm16k = np.concatenate([resampler.push(pcm), resampler.flush()])
        result = await asyncio.to_thread(self._recognizer.transcribe, pcm16k, self.prompt,
                                         self.expects, self.expected)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=LanguageCode("en"), text=result.text,
                                         confidence=result.confidence)],
        )
