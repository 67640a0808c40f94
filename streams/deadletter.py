"""Dead letters: input dongbo could not use, kept whole with the reason and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import codec

SCHEMA = "vn.dongbo.DeadLetter"


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    detail: str
    stage: str
    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    failed_at: datetime
    replayed: int = 0

    def encode(self) -> bytes:
        return codec.encode(SCHEMA, self.to_record())

    def to_record(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "detail": self.detail[:4000],
            "stage": self.stage,
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": self.value,
            "failed_at": self.failed_at,
            "replayed": self.replayed,
        }

    @classmethod
    def decode(cls, data: bytes) -> DeadLetter:
        rec = codec.decode(SCHEMA, data)
        return cls(**rec)
