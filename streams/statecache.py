"""A bounded cache of decoded states beside the table.

Decoding a state from the table's bytes (``DossierState.loads``) costs as much as a cheap merge.
The table hands back the bytes the worker wrote last; when they are the bytes cached for that
dossier, the decoded state is reused. Bytes are compared (through a digest), so a state changed by
anything else (a restore from the changelog, another worker) is decoded afresh.

The cache keeps a 16-byte BLAKE2b digest of each state's bytes, not the bytes: a dossier's table
value is 6.5 KB on average after five days of a simulated city (p90 9.6 KB, the history grows with
every record), so a copy for each of 50,000 cached dossiers was about 330 MB of a worker's memory.
A collision of 128-bit digests between two values of one dossier is not a practical risk.
"""

from __future__ import annotations

from collections import OrderedDict
from hashlib import blake2b

from streams.state import DossierState


def digest(raw: bytes) -> bytes:
    return blake2b(raw, digest_size=16).digest()


class StateCache:
    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[bytes, tuple[bytes, DossierState]] = OrderedDict()
        self.hits = self.misses = 0

    def load(self, key: bytes, raw: bytes | None) -> DossierState | None:
        if raw is None:
            return None
        cached = self._items.get(key)
        seen = digest(raw)
        if cached is not None and cached[0] == seen:
            self._items.move_to_end(key)
            self.hits += 1
            return cached[1]
        self.misses += 1
        state = DossierState.loads(raw)
        self._keep(key, seen, state)
        return state

    def put(self, key: bytes, raw: bytes, state: DossierState) -> None:
        """``state`` is what ``raw`` (the bytes just written to the table for ``key``) decodes to."""
        self._keep(key, digest(raw), state)

    def __len__(self) -> int:
        return len(self._items)

    def _keep(self, key: bytes, seen: bytes, state: DossierState) -> None:
        self._items[key] = (seen, state)
        self._items.move_to_end(key)
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
