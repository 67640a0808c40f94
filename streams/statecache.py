"""A bounded cache of decoded states beside the table.

Decoding a state from the table's bytes (``DossierState.loads``) costs as much as a cheap merge.
The table hands back the bytes the worker wrote last; when they are the bytes cached for that
dossier, the decoded state is reused. Bytes are compared (through a digest), so a state changed by
anything else (a restore from the changelog, another worker) is decoded afresh.

The cache keeps a 16-byte BLAKE2b digest of each state's bytes, not the bytes: a dossier's table
value is 6.5 KB on average after five days of a simulated city (p90 9.6 KB; the history grows
with every record), so copies for the 50,000 dossiers the cache used to keep came to about 330 MB.
A collision of 128-bit digests between two values of one dossier is not a practical risk. Decoded,
those 50,000 states took another ~850 MB: the cache is now bounded by their estimated memory
(``DONGBO_WORKER_STATE_CACHE_MIB``), not by a count.
"""

from __future__ import annotations

from collections import OrderedDict
from hashlib import blake2b

from streams.state import DossierState

# A cached state's memory, estimated from its table bytes: about 2.4 times them (1,000 simulated
# dossiers after five days, 7,705 bytes of JSON on average: 16,973 bytes decoded, 18,072 for a
# state the worker derived, which holds the facts it was derived from; ``streams.derive``), plus
# the entry's own bookkeeping. The cache is bounded by this estimate, not by a count of dossiers: a
# dossier's history, and so its state, grows with every record.
DECODED_PER_BYTE = 2.4
ENTRY_OVERHEAD = 200
# The budget offline (replays, tests); the worker's comes from DONGBO_WORKER_STATE_CACHE_MIB, whose
# default is this (a unit test holds them equal).
DEFAULT_MIB = 192


def digest(raw: bytes) -> bytes:
    return blake2b(raw, digest_size=16).digest()


def cost(raw: bytes) -> int:
    """The estimated memory, in bytes, of keeping ``raw``'s decoded state."""
    return int(len(raw) * DECODED_PER_BYTE) + ENTRY_OVERHEAD


class StateCache:
    """Decoded states by key, the least recently used dropped first once their estimated memory
    passes ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_MIB * 1024**2) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0  # the estimated memory of what is kept
        self._items: OrderedDict[bytes, tuple[bytes, DossierState, int]] = OrderedDict()
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
        self._keep(key, seen, state, cost(raw))
        return state

    def put(self, key: bytes, raw: bytes, state: DossierState) -> None:
        """``state`` is what ``raw`` (the bytes just written to the table for ``key``) decodes to."""
        self._keep(key, digest(raw), state, cost(raw))

    def __len__(self) -> int:
        return len(self._items)

    def _keep(self, key: bytes, seen: bytes, state: DossierState, size: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[2]
        self._items[key] = (seen, state, size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, (_, _, dropped) = self._items.popitem(last=False)
            self.bytes -= dropped
