"""REFER bookkeeping: the answer to our REFER and the NOTIFYs' sipfrag statuses decide how
a transfer ended; the summary header is short and redacted."""

from __future__ import annotations

import asyncio

from aiosipua import Dialog, DialogState, SipRequest, SipResponse

from app.channels.sip_transfer import (
    SUMMARY_MAX_CHARS,
    TransferReport,
    TransferResult,
    Transfers,
    summary_header,
)


class Wire:
    """A reliable transport that keeps what was sent (no retransmissions)."""

    reliable = True
    local_addr = ("127.0.0.1", 5070)

    def __init__(self) -> None:
        self.sent: list[SipRequest] = []

    def send(self, message: SipRequest, _address: tuple[str, int]) -> None:
        self.sent.append(message)


def _dialog() -> Dialog:
    return Dialog(call_id="call-1", local_tag="ours", remote_tag="theirs",
                  local_uri="sip:clinic@127.0.0.1:5070", remote_uri="sip:caller@127.0.0.1",
                  remote_target="sip:caller@127.0.0.1:5062", state=DialogState.CONFIRMED,
                  remote_cseq=1)


def _answer(refer: SipRequest, status: int, method: str = "REFER") -> SipResponse:
    response = SipResponse(status_code=status, reason_phrase="")
    response.headers.set_single("Call-ID", refer.call_id or "")
    cseq = refer.cseq
    assert cseq is not None
    response.headers.set_single("CSeq", f"{cseq.seq} {method}")
    return response


async def _transfer(steps: list[tuple[str, int]], timeout_s: float = 2.0
                    ) -> tuple[TransferReport, SipRequest]:
    """Start a transfer, then feed it ``steps``: ("answer", status), ("notify", status),
    ("left", 0) for the caller's BYE, or ("stop", 0) for the server stopping."""
    transfers, wire = Transfers(timeout_s), Wire()
    task = asyncio.create_task(transfers.transfer(
        wire, _dialog(), ("127.0.0.1", 5062), ("127.0.0.1", 5070),  # type: ignore[arg-type]
        "sip:desk@pbx.example.com", "caller: a person please"))
    await asyncio.sleep(0)
    [refer] = wire.sent
    for kind, status in steps:
        if kind == "answer":
            assert transfers.response_received(_answer(refer, status))
        elif kind == "notify":
            transfers.progress("call-1", status, "")
        elif kind == "left":
            transfers.peer_left("call-1")
        else:
            transfers.abandon_all()
    return await task, refer


async def test_a_202_then_a_200_sipfrag_is_a_connected_transfer() -> None:
    report, refer = await _transfer([("answer", 202), ("notify", 100), ("notify", 200)])
    assert report == TransferReport(TransferResult.CONNECTED, accepted=True, status=200)
    assert refer.method == "REFER"
    assert refer.headers.get_first("refer-to") == "<sip:desk@pbx.example.com>"
    assert refer.headers.get_first("referred-by") == "<sip:clinic@127.0.0.1:5070>"
    assert refer.headers.get_first("x-ava-summary") == "caller: a person please"


async def test_an_error_answer_is_a_refusal_and_a_failed_sipfrag_a_failure() -> None:
    refused, _ = await _transfer([("answer", 405)])
    assert refused == TransferReport(TransferResult.REFUSED, accepted=False, status=405)
    failed, _ = await _transfer([("answer", 202), ("notify", 486)])
    assert failed == TransferReport(TransferResult.FAILED, accepted=True, status=486)


async def test_no_final_word_in_time_is_a_timeout() -> None:
    report, _ = await _transfer([("answer", 202), ("notify", 180)], timeout_s=0.2)
    assert report == TransferReport(TransferResult.TIMED_OUT, accepted=True)


async def test_the_caller_leaving_or_the_server_stopping_ends_the_wait() -> None:
    left, _ = await _transfer([("answer", 202), ("left", 0), ("notify", 200)])
    assert left == TransferReport(TransferResult.CALLER_LEFT, accepted=True)
    stopped, _ = await _transfer([("stop", 0)], timeout_s=30)
    assert stopped == TransferReport(TransferResult.ABANDONED, accepted=False)


def test_answers_to_other_requests_are_not_taken() -> None:
    transfers = Transfers(1.0)
    bye = SipResponse(status_code=200, reason_phrase="OK")
    bye.headers.set_single("Call-ID", "call-1")
    bye.headers.set_single("CSeq", "2 BYE")
    assert not transfers.response_received(bye)


def test_the_summary_header_is_redacted_one_line_and_short() -> None:
    header = summary_header("caller: March 12, 1984\r\n| caller: my card is "
                            "4111 1111 1111 1111 | agent: thank you")
    assert header == "caller: [date] | caller: my card is [card] | agent: thank you"
    long = summary_header("agent: hello | " + "caller: I want a person. " * 20)
    assert len(long) <= SUMMARY_MAX_CHARS
    assert long.startswith("...") and long.endswith("I want a person.")
