"""Dead letters: input dongbo could not use, kept whole with the reason and where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contract.topics import DEAD_LETTER_MAX
from schemas import codec

SCHEMA = "vn.dongbo.DeadLetter"
# The most raw bytes a letter carries: what fits the dead-letter topic with the letter's other
# fields (detail at most 4,000 characters; the rest a few hundred bytes).
KEPT_MAX = DEAD_LETTER_MAX - 32_768


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
        value, detail = self.value, self.detail[:4000]
        if value is not None and len(value) > KEPT_MAX:
            # Only past what any dongbo source topic accepts (contract.topics): the letter must fit
            # its topic, so the record is kept cut, with what identifies the whole.
            digest = hashlib.sha256(value).hexdigest()
            cut = f"value truncated: {KEPT_MAX:,} of {len(value):,} bytes kept, sha256 {digest}"
            detail = f"{detail[:3000]} [{cut}]"
            value = value[:KEPT_MAX]
        return {
            "reason": self.reason,
            "detail": detail,
            "stage": self.stage,
            "source_topic": self.source_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": self.key,
            "value": value,
            "failed_at": self.failed_at,
            "replayed": self.replayed,
        }

    @classmethod
    def decode(cls, data: bytes) -> DeadLetter:
        rec = codec.decode(SCHEMA, data)
        return cls(**rec)
