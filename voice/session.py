"""The realtime voice session: caller audio in, agent audio out, one conversation.

Built on livekit-agents' ``AgentSession`` with the project's own speech plugins and an
``AudioInput``/``AudioOutput`` pair supplied by the channel; no LiveKit room is involved.
Replies come from a ``Responder``. The session records a ``Turn`` with latency marks for
every exchange, and ends the call when the responder says so, the caller hangs up, or the
call runs past its time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import structlog
from livekit.agents import AgentSession, vad
from livekit.agents.voice import SpeechHandle

from voice.asr import WhisperRecognizer, WhisperSTT
from voice.caller_input import CallerAudioInput
from voice.config import VoiceConfig
from voice.latency import Turn
from voice.livekit_agent import ResponderAgent, ResponderLLM
from voice.playout import Segment, TimelineOutput
from voice.responder import Responder, Speech
from voice.tts import PiperSynthesizer, PiperTTS
from voice.turns import turn_handling

log = structlog.get_logger(__name__)

REPLY_WAIT_S = 30.0  # the longest a scripted caller waits for a reply being worked out
GOODBYE_WAIT_S = 10.0  # for the speech of a goodbye returned as a turn's reply to begin
# The longest the last words may take to be heard, and livekit's session to close: past
# these the call ends anyway (a playout that never reports finished must not hold the line).
GOODBYE_PLAYOUT_S = 60.0
CLOSE_WAIT_S = 10.0
TECHNICAL_GOODBYE = ("I'm sorry, I'm having a technical problem. Please call us back later. "
                     "Goodbye.")


@dataclass(frozen=True)
class SpeechModels:
    """Models shared by every call in the process (loaded once)."""

    recognizer: WhisperRecognizer
    synthesizer: PiperSynthesizer
    vad: vad.VAD
    turn_detector: Any | None


class VoiceSession:
    """One call. ``start()``, then ``wait_closed()``; ``send_keys``/``hang_up`` from the channel."""

    def __init__(self, models: SpeechModels, responder: Responder, config: VoiceConfig,
                 audio_in: CallerAudioInput, audio_out: TimelineOutput,
                 clock_origin: float) -> None:
        self.config = config
        self.turns: list[Turn] = []
        self.ended_by: str | None = None
        self.caller_spoke = False
        self._responder = responder
        self._origin = clock_origin
        self._audio_out = audio_out
        self._awaiting_audio: Turn | None = None
        self._pending_replies = 0
        self._closed = asyncio.Event()
        self._turn_added = asyncio.Event()
        self._ending = False
        self._caller_speaking = False
        self._last_activity = 0.0
        self._last_speech_end: float | None = None
        self._answered_speech_end: float | None = None
        self._last_final: float | None = None
        self._final_speech_end: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stt = WhisperSTT(models.recognizer, prompt=config.asr_prompt or None)
        self._session: AgentSession = AgentSession(
            stt=self._stt,
            vad=models.vad, llm=ResponderLLM(), tts=PiperTTS(models.synthesizer),
            turn_handling=turn_handling(config, models.turn_detector),
            aec_warmup_duration=None,  # default ignores barge-in for the first 3 s
            user_away_timeout=config.silence_timeout_s,
            tts_text_transforms=None,
            session_close_transcript_timeout=0.3,
        )
        self._session.input.audio = audio_in
        self._session.output.audio = audio_out
        audio_out.on_segment_start = self._on_segment_start
        audio_out.on_segment_end = self._on_segment_end
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("user_input_transcribed", self._on_transcribed)
        self._session.on("close", lambda _: self._closed.set())

    def now(self) -> float:
        """Seconds since the call began."""
        return time.time() - self._origin

    async def start(self) -> None:
        await self._session.start(ResponderAgent(self._on_caller_turn), record=False)
        self._spawn(self._enforce_time_limit())
        greeting = await self._ask("start", self._responder.greeting())
        if greeting is not None:
            self._speak(greeting)

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_settled(self, max_wait_s: float) -> None:
        """Until nothing is under way (no caller speech, no reply pending or playing), or
        nothing has happened for ``max_wait_s`` (an utterance that got no reply)."""
        while not self.closed:
            unanswered = self._last_speech_end != self._answered_speech_end
            busy = (self._caller_speaking or unanswered or self._awaiting_audio is not None
                    or self._audio_out.playing)
            if self._pending_replies:  # the responder is thinking: wait for it
                busy, max_wait_s = True, max(max_wait_s, REPLY_WAIT_S)
            if not busy or self.now() - self._last_activity >= max_wait_s:
                return
            await asyncio.sleep(0.05)

    async def send_keys(self, digits: str) -> None:
        """Keypad digits from the channel: they interrupt the agent and get a reply."""
        self._session.reset_away_timer()
        await self._session.interrupt()
        speech = await self._ask("keypad", self._responder.keyed(digits), digits)
        if speech is not None:
            self._speak(speech)

    async def hang_up(self) -> None:
        """The caller left: tell the responder, then close without speaking."""
        if self.closed:
            return
        if self._ending:  # the agent is saying goodbye; let it finish, within reason
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.wait_closed()
            await self._close()
            return
        self._ending = True
        self.ended_by = self.ended_by or "caller"
        await self._ask("hang_up", self._hung_up())
        await self._close()

    # -- replies -----------------------------------------------------------------------

    async def _ask(self, kind: str, request: Awaitable[Speech | None],
                   caller: str | None = None) -> Speech | None:
        """Ask the responder; its failures end the call politely instead of killing it."""
        turn = self._new_turn(kind, caller)
        answering = asyncio.ensure_future(request)
        self._pending_replies += 1
        try:
            # Shielded: when livekit drops this reply (the caller went on talking), the
            # dialogue still takes the turn whole, and the transcript keeps the reply.
            speech = await asyncio.shield(answering)
        except asyncio.CancelledError:
            answering.add_done_callback(lambda done: self._unspoken(turn, done))
            raise
        except Exception:
            log.exception("responder failed", caller_event=kind)
            speech = Speech(TECHNICAL_GOODBYE, end_call=True)
        finally:
            self._pending_replies -= 1
        self._touch()
        if speech is not None:
            turn.agent = speech.text
            turn.marks.reply_text_ready = self.now()
            self._awaiting_audio = turn if speech.text else None
        return speech

    def _unspoken(self, turn: Turn, answering: asyncio.Future[Speech | None]) -> None:
        """A reply that came after the caller had gone on: recorded, never spoken."""
        speech = None if answering.cancelled() or answering.exception() else answering.result()
        turn.agent = speech.text if speech is not None else None
        turn.interrupted = True

    def _new_turn(self, kind: str, caller: str | None) -> Turn:
        turn = Turn(index=len(self.turns), caller_event=kind, caller=caller)
        if kind == "speech":
            # The turn livekit just committed ends with the latest speech it heard.
            speech_end = self._final_speech_end or self._last_speech_end
            turn.marks.caller_speech_end = speech_end
            turn.marks.transcript_final = self._last_final
            self._answered_speech_end = speech_end
        self._add_turn(turn)
        return turn

    def _add_turn(self, turn: Turn) -> None:
        self.turns.append(turn)
        self._turn_added.set()

    async def wait_for_turn(self, count: int, timeout_s: float) -> None:
        """Until the session holds more than ``count`` turns, at most ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while len(self.turns) <= count and not self.closed:
                    self._turn_added.clear()
                    await self._turn_added.wait()

    async def _hung_up(self) -> None:
        await self._responder.hung_up()

    async def _on_caller_turn(self, text: str) -> str | None:
        if self._ending:
            return None
        speech = await self._ask("speech", self._responder.heard(text), text)
        if speech is None or not speech.text:
            return None
        self._listen_after(speech)
        if speech.end_call:
            self._ending = True  # words after the goodbye get no reply
            handle = self._session.current_speech
            if handle is not None:
                handle.allow_interruptions = False
                self._spawn(self._end_after(handle))
            else:
                self._spawn(self._end_after_reply())
        return speech.text

    async def _end_after_reply(self) -> None:
        """End the call once the goodbye returned as this turn's reply has been heard. The
        session makes that reply's speech after we return it; should none appear, the call
        ends anyway rather than staying open to the time limit."""
        waited = 0.0
        while waited < GOODBYE_WAIT_S:
            handle = self._session.current_speech
            if handle is not None:
                handle.allow_interruptions = False
                await self._end_after(handle)
                return
            await asyncio.sleep(0.05)
            waited += 0.05
        await self._end_call("agent")

    def _listen_after(self, speech: Speech) -> None:
        """What the caller was just asked decides what the recognizer listens for next:
        the configured vocabulary, then the reply's hint of the answer's form ("Yes, this is
        Tom Becker.", "a date of birth, such as ..."). Not the agent's own words: Whisper
        then tends to hear the question again, or the caller's words bent towards it."""
        parts = (self.config.asr_prompt, speech.listen_for)
        self._stt.prompt = " ".join(part.strip() for part in parts if part) or None
        self._stt.expects = speech.expects
        self._stt.expected = speech.expected

    def _speak(self, speech: Speech) -> None:
        self._listen_after(speech)
        if not speech.text:
            if speech.end_call:
                self._spawn(self._end_call("agent"))
            return
        handle = self._session.say(speech.text, allow_interruptions=not speech.end_call)
        if speech.end_call:
            self._spawn(self._end_after(handle))

    async def _end_after(self, handle: SpeechHandle) -> None:
        self._ending = True
        try:
            async with asyncio.timeout(GOODBYE_PLAYOUT_S):
                await handle.wait_for_playout()
        except TimeoutError:
            log.error("goodbye playout never finished", waited_s=GOODBYE_PLAYOUT_S)
        await self._end_call("agent")

    async def _end_call(self, by: str) -> None:
        self._ending = True
        self.ended_by = self.ended_by or by
        await self._close()

    async def abandon(self, reason: str) -> None:
        """Close at once without asking the responder anything: the call is being torn
        down because something in it stopped answering."""
        self._ending = True
        self.ended_by = self.ended_by or reason
        await self._close()

    async def _close(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                with contextlib.suppress(RuntimeError):
                    await self._session.aclose()
        except TimeoutError:
            log.error("voice session close never finished", waited_s=CLOSE_WAIT_S)
        await self._audio_out.aclose()
        self._closed.set()
        self._turn_added.set()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    async def _enforce_time_limit(self) -> None:
        await asyncio.sleep(self.config.max_call_s)
        log.warning("call time limit reached", limit_s=self.config.max_call_s)
        self.ended_by = "time_limit"
        await self.hang_up()

    def _touch(self) -> None:
        self._last_activity = self.now()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- livekit events ----------------------------------------------------------------

    def _on_user_state(self, event: Any) -> None:
        self._touch()
        self._caller_speaking = event.new_state == "speaking"
        if event.new_state == "speaking":
            self.caller_spoke = True
        elif event.old_state == "speaking":
            # livekit back-dates this event to when the VAD heard the speech end
            self._last_speech_end = event.created_at - self._origin
        elif event.new_state == "away" and not self._ending:
            self._spawn(self._on_silence())

    def _on_transcribed(self, event: Any) -> None:
        self._touch()
        if event.is_final:
            self._last_final = event.created_at - self._origin
            # The speech this transcript is of ended before it; a later segment may have
            # ended since the turn was committed, and belongs to the next turn.
            self._final_speech_end = self._last_speech_end

    async def _on_silence(self) -> None:
        silence = self._responder.went_silent(self.config.silence_timeout_s)
        speech = await self._ask("silence", silence)
        self._session.reset_away_timer()
        if speech is not None:
            self._speak(speech)

    def _on_segment_start(self, segment: Segment) -> None:
        self._touch()
        turn, self._awaiting_audio = self._awaiting_audio, None
        if turn is not None and turn.agent is not None:
            turn.marks.first_agent_audio = segment.heard_at_s

    def _on_segment_end(self, segment: Segment) -> None:
        self._touch()
        if segment.interrupted:
            for turn in reversed(self.turns):
                if turn.marks.first_agent_audio == segment.heard_at_s:
                    turn.interrupted = True
                    break
