"""A bounded cache of decoded states beside the table.

Decoding a state from the table's bytes (``DossierState.loads``) costs as much as a cheap merge.
The table hands back the bytes the worker wrote last; when they are the bytes cached for that
dossier, the decoded state is reused. Bytes are compared, so a state changed by anything else (a
restore from the changelog, another worker) is decoded afresh.
"""

from __future__ import annotations

from collections import OrderedDict

from streams.state import DossierState


class StateCache:
    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[bytes, tuple[bytes, DossierState]] = OrderedDict()
        self.hits = self.misses = 0

    def load(self, key: bytes, raw: bytes | None) -> DossierState | None:
        if raw is None:
            return None
        cached = self._items.get(key)
        if cached is not None and cached[0] == raw:
            self._items.move_to_end(key)
            self.hits += 1
            return cached[1]
        self.misses += 1
        state = DossierState.loads(raw)
        self.put(key, raw, state)
        return state

    def put(self, key: bytes, raw: bytes, state: DossierState) -> None:
        self._items[key] = (raw, state)
        self._items.move_to_end(key)
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
