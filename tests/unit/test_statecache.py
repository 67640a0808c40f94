"""The decoded-state cache beside the table: reused only for the very bytes it was made from."""

import sys

from hypothesis import given
from hypothesis import strategies as st

from streams.state import DossierState
from streams.statecache import StateCache


def stored(dossier: str, version: int) -> tuple[bytes, DossierState]:
    state = DossierState(dossier_id=dossier, version=version)
    return state.dumps(), state


def test_the_bytes_just_written_give_back_the_same_object_without_decoding() -> None:
    cache = StateCache()
    raw, state = stored("D1", 3)
    cache.put(b"D1", raw, state)
    assert cache.load(b"D1", bytes(raw)) is state  # equal bytes, another object (as RocksDB returns)
    assert (cache.hits, cache.misses) == (1, 0)


def test_other_bytes_for_the_key_are_decoded_afresh() -> None:
    # A restore from the changelog or another worker wrote the dossier: its bytes differ.
    cache = StateCache()
    raw, state = stored("D1", 3)
    cache.put(b"D1", raw, state)
    newer, _ = stored("D1", 4)
    loaded = cache.load(b"D1", newer)
    assert loaded is not state and loaded is not None and loaded.version == 4
    assert cache.misses == 1
    assert cache.load(b"D1", newer) is loaded  # and that decoding is kept
    assert cache.load(b"D1", None) is None  # deleted from the table: nothing, whatever is cached


def test_bounded_least_recently_used_first() -> None:
    cache = StateCache(maxsize=2)
    entries = {k: stored(k, 1) for k in ("A", "B", "C")}
    cache.put(b"A", *entries["A"])
    cache.put(b"B", *entries["B"])
    assert cache.load(b"A", entries["A"][0]) is entries["A"][1]  # A is now the most recent
    cache.put(b"C", *entries["C"])
    assert len(cache) == 2
    assert cache.load(b"A", entries["A"][0]) is entries["A"][1]
    misses = cache.misses
    cache.load(b"B", entries["B"][0])  # B was evicted: decoded again
    assert cache.misses == misses + 1


def test_the_cache_does_not_hold_the_bytes() -> None:
    # The table keeps them (RocksDB, off the Python heap); a copy per cached dossier was up to
    # half a GiB of a worker at 50,000 dossiers with long histories.
    cache = StateCache()
    raw, state = stored("D1", 1)
    raw = raw + b" " * 10_000  # a long history's value (trailing blanks: still valid JSON)
    before = sys.getrefcount(raw)
    cache.put(b"D1", raw, state)
    assert sys.getrefcount(raw) == before


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, 3)), max_size=40))
def test_whatever_the_sequence_a_load_equals_decoding_the_bytes(ops: list[tuple[str, int]]) -> None:
    cache = StateCache(maxsize=3)
    for dossier, version in ops:
        raw, state = stored(dossier, version)
        if version % 2:
            cache.put(dossier.encode(), raw, state)
        loaded = cache.load(dossier.encode(), raw)
        assert loaded == DossierState.loads(raw)
