"""Keys pressed one at a time become one entry: on '#', or when the caller pauses."""

import asyncio

from voice.keypad import KeypadCollector


async def collect(keys: str, pause_s: float = 0.05, gap_s: float = 0.0,
                  wait_s: float = 0.2) -> list[str]:
    entries: list[str] = []

    async def deliver(entry: str) -> None:
        entries.append(entry)

    keypad = KeypadCollector(deliver, pause_s=pause_s)
    for key in keys:
        keypad.press(key)
        await asyncio.sleep(gap_s)
    await asyncio.sleep(wait_s)
    await keypad.close()
    return entries


async def test_a_pause_ends_an_entry_and_hash_ends_it_at_once():
    assert await collect("03121984") == ["03121984"]
    assert await collect("12#3", pause_s=5) == ["12"]  # '3' still waiting when the call ends
    assert await collect("1x2") == ["12"]  # not a key: ignored


async def test_keys_slower_than_the_pause_are_separate_entries():
    assert await collect("12", pause_s=0.02, gap_s=0.1) == ["1", "2"]
