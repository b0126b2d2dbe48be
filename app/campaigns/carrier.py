"""What places a campaign's calls: a ``Carrier`` turns one claimed attempt into a report.

The real one is ``SipCarrier`` (``app.campaigns.sip_carrier``): it dials the contact through
the SIP settings' trunk and lets the campaign's agent hold the conversation. Tests and
benchmarks plug in their own (a simulated carrier that answers in milliseconds) with
``--carrier package.module:Class``, the same way agents are named.
"""

from __future__ import annotations

import abc
import importlib
from types import TracebackType

from app.campaigns.claims import CallReport, Claim
from app.config import Settings
from app.errors import InputError


class Carrier(abc.ABC):
    """Places calls. Used as ``async with carrier: await carrier.place(claim)``; ``place``
    may run many times at once and must return a report for every call it was given, not
    raise for a call that merely went badly (busy, refused, no answer)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __aenter__(self) -> Carrier:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        return None

    @abc.abstractmethod
    async def place(self, claim: Claim) -> CallReport:
        """Dial ``claim.phone`` once and report how it went."""


def load_carrier(spec: str, settings: Settings) -> Carrier:
    """``sip`` (the default), or ``package.module:Class`` naming a ``Carrier`` subclass."""
    if spec == "sip":
        from app.campaigns.sip_carrier import SipCarrier

        return SipCarrier(settings)
    module_name, sep, class_name = spec.partition(":")
    if not sep:
        raise InputError(f"--carrier '{spec}': use 'sip' or package.module:Class")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise InputError(f"--carrier '{spec}': {error}") from None
    if not (isinstance(found, type) and issubclass(found, Carrier)):
        raise InputError(f"--carrier '{spec}' is not a Carrier subclass")
    return found(settings)
