"""Operator tools for the dead-letter topic: list, show, replay after a fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from contract.settings import Settings
from contract.topics import topics_for
from dongbo.topic_reader import read_to_end
from producers.publisher import Publisher
from schemas import codec
from streams.deadletter import DeadLetter


@dataclass(frozen=True)
class StoredLetter:
    """A dead letter and where it sits on ``dossier.dlq`` (its id for ``show`` / ``replay``)."""

    partition: int
    offset: int
    letter: DeadLetter | None  # None: the DLQ record itself does not decode
    error: str = ""

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"


def read_dead_letters(settings: Settings, timeout: float = 10.0) -> Iterator[StoredLetter]:
    """Every record on the DLQ, from the beginning to the end as of now."""
    for msg in read_to_end(settings, topics_for(settings).dlq, timeout, purpose="dlq-reader"):
        part, off = msg.partition() or 0, msg.offset() or 0
        try:
            yield StoredLetter(part, off, DeadLetter.decode(msg.value() or b""))
        except codec.DecodeError as exc:
            yield StoredLetter(part, off, None, str(exc))


def find(settings: Settings, ref: str) -> StoredLetter:
    try:
        part, off = (int(x) for x in ref.split(":"))
    except ValueError:
        raise ValueError(
            f"a dead letter is named PARTITION:OFFSET as `dongbo dlq list` prints it, not {ref!r}"
        ) from None
    for stored in read_dead_letters(settings):
        if stored.partition == part and stored.offset == off:
            return stored
    raise LookupError(f"no dead letter at {ref} (it may have expired; see `dongbo dlq list`)")


def replay(settings: Settings, letters: list[StoredLetter]) -> int:
    """Publish each letter's original bytes again to the topic it came from, with the same key."""
    n = 0
    with Publisher(settings) as pub:
        for stored in letters:
            letter = stored.letter
            if letter is None or letter.value is None:
                continue
            pub.send(
                letter.source_topic,
                letter.key or b"",
                letter.value,
                headers={"dongbo-replay-of": f"{topics_for(settings).dlq}/{stored.ref}"},
            )
            n += 1
    return n
