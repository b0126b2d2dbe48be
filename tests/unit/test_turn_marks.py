"""Where a response's time went: the stages between a caller's speech end and the agent's
first audio."""

from voice.latency import TurnMarks


def test_stages_add_up_to_the_response_latency() -> None:
    marks = TurnMarks(caller_speech_end=10.0, transcript_final=10.4, reply_text_ready=10.45,
                      first_agent_audio=10.6)
    assert marks.stages_ms() == (400, 50, 150)
    assert marks.response_latency is not None
    assert sum(marks.stages_ms() or ()) == round(marks.response_latency * 1000)


def test_a_turn_missing_a_stage_has_no_breakdown() -> None:
    assert TurnMarks(caller_speech_end=1.0, first_agent_audio=2.0).stages_ms() is None
