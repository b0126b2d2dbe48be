"""A fixed-delay jitter buffer for one RTP stream of 20 ms packets.

Packets are put in as they arrive (late, early, twice, out of order); the media clock takes
one out every 20 ms. Playout starts once ``depth`` packets are held, so that much network
jitter is absorbed. A packet missing at its turn while later ones are there is lost (the
caller hears silence for it); an empty buffer is an underrun (the peer paused or stalled),
after which the buffer fills to ``depth`` again before playing on.
"""

from __future__ import annotations

from dataclasses import dataclass

_SEQ_MOD = 1 << 16
_MAX_AHEAD = 50  # a jump of more than a second of packets: the stream was restarted


def extended_sequence(sequence: int, highest: int) -> int:
    """The 16-bit RTP ``sequence`` as a number that keeps growing across wrap-arounds (a
    stream starts at a random one): the candidate nearest ``highest``, the highest extended
    number seen so far."""
    base = highest - highest % _SEQ_MOD
    candidates = (base - _SEQ_MOD + sequence, base + sequence, base + _SEQ_MOD + sequence)
    return min(candidates, key=lambda value: abs(value - highest))


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    lost: int = 0
    late: int = 0
    duplicate: int = 0
    underruns: int = 0
    resets: int = 0


class JitterBuffer:
    def __init__(self, depth: int = 3) -> None:
        self.depth = max(1, depth)
        self.stats = JitterStats()
        self._packets: dict[int, bytes] = {}
        self._next: int | None = None  # extended sequence number due next
        self._highest: int | None = None
        self._playing = False

    def __len__(self) -> int:
        return len(self._packets)

    def put(self, sequence: int, payload: bytes) -> None:
        self.stats.received += 1
        if self._highest is None or self._next is None:
            self._next = self._highest = sequence
        extended = self._extend(sequence)
        assert self._next is not None
        if abs(extended - self._next) > _MAX_AHEAD:
            self.restart(extended)  # a jump of over a second: the stream started anew
        elif extended < self._next:
            self.stats.late += 1
            return
        if extended in self._packets:
            self.stats.duplicate += 1
            return
        self._packets[extended] = payload
        self._highest = max(self._highest, extended)

    def take(self) -> bytes | None:
        """The next packet's payload, or ``None`` when there is none to play now."""
        if not self._playing:
            if len(self._packets) < self.depth:
                return None
            self._playing = True
        if not self._packets:
            self._playing = False
            self.stats.underruns += 1
            return None
        assert self._next is not None
        payload = self._packets.pop(self._next, None)
        self._next += 1
        if payload is None:
            self.stats.lost += 1
        else:
            self.stats.played += 1
        return payload

    def _extend(self, sequence: int) -> int:
        assert self._highest is not None
        return extended_sequence(sequence, self._highest)

    @property
    def playing(self) -> bool:
        """Whether playout is under way (``take`` returning ``None`` then means a loss)."""
        return self._playing

    def restart(self, sequence: int | None = None) -> None:
        """Forget the stream (a new source began): the next packet put starts it again."""
        self.stats.resets += 1
        self._packets.clear()
        self._next = self._highest = sequence
        self._playing = False
