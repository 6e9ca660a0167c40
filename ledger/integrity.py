"""The hash chain of SPEC §9: each event's hash covers the previous hash and its own content."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.events import Event, canonical, sealed_parts

GENESIS = "0" * 64


def event_hash(previous_hash: str, event: Event) -> str:
    """SHA-256 over the previous event's hash and this event's canonical content.

    The content includes ``sequence`` and ``recorded_at``, so moving, retiming
    or editing an event breaks the chain from that event on.
    """
    record = event.record()
    record.pop("hash", None)
    return hashlib.sha256(f"{previous_hash}\n{canonical(record)}".encode()).hexdigest()


def chain_text(fragments: str, previous_hash: str, **ledger_fields) -> tuple[str, str]:
    """(hash, stored text) of an event given as record fragments (``ledger.events.record_fragments``).

    The same hash as :func:`event_hash`: the text hashed is the record without its
    hash, and the text stored is that record with the hash in its sorted place.
    """
    head, tail = sealed_parts(fragments, **ledger_fields)
    digest = hashlib.sha256(f"{previous_hash}\n{{{head},{tail}}}".encode()).hexdigest()
    return digest, f'{{{head},"hash":"{digest}",{tail}}}'


def chained(events: Iterable[Event], previous_hash: str) -> list[Event]:
    """The events with their hashes set, continuing a chain whose head is ``previous_hash``."""
    result = []
    for event in events:
        previous_hash = event_hash(previous_hash, event)
        result.append(event.with_record(hash=previous_hash))
    return result


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log head, ``SEQUENCE:HASH``, kept elsewhere to prove the log still extends it."""

    sequence: int
    hash: str

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        sequence, sep, digest = text.strip().partition(":")
        if not sep or not sequence.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{text!r} is not a checkpoint (SEQUENCE:HASH, as `revledger checkpoint` prints)")
        return cls(int(sequence), digest)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the chain first fails, and why."""

    sequence: int
    message: str

    def __str__(self) -> str:
        return f"sequence {self.sequence}: {self.message}"


def first_break(events: Iterable[tuple[int, Event]]) -> ChainBreak | None:
    """Walk (stored position, event) pairs from the start; name the first that does not hold.

    Besides the hashes, the recorded clock must strictly increase along the log (SPEC §2).
    """
    previous_hash = GENESIS
    previous_at = ""
    expected = 1
    for position, event in events:
        if position != expected or event.sequence != expected:
            return ChainBreak(expected, f"expected event {expected}, found stored position {position} holding sequence {event.sequence}")
        if event_hash(previous_hash, event) != event.hash:
            return ChainBreak(expected, "hash does not match the event's content and the previous hash")
        if event.recorded_at <= previous_at:
            return ChainBreak(expected, f"recorded_at {event.recorded_at} is not later than the previous event's {previous_at}")
        previous_hash, previous_at = event.hash, event.recorded_at
        expected += 1
    return None
