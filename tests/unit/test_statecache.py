"""The decoded-state cache beside the table: reused only for the very bytes it was made from."""

import sys

from hypothesis import given
from hypothesis import strategies as st

from contract.settings import WorkerSettings
from streams.state import DossierState
from streams.statecache import DEFAULT_MIB, StateCache, cost


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
    entries = {k: stored(k, 1) for k in ("A", "B", "C")}
    cache = StateCache(max_bytes=cost(entries["A"][0]) * 2)  # room for two
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
    # The table keeps them (RocksDB, off the Python heap); a copy per cached dossier was about
    # 330 MB of a worker at 50,000 five-day dossiers.
    cache = StateCache()
    raw, state = stored("D1", 1)
    raw = raw + b" " * 10_000  # a long history's value (trailing blanks: still valid JSON)
    before = sys.getrefcount(raw)
    cache.put(b"D1", raw, state)
    assert sys.getrefcount(raw) == before


def test_bounded_by_the_memory_of_the_states_not_their_number() -> None:
    # One long history weighs as much as many short ones: a count would let memory grow with them.
    short = {f"S{i}": stored(f"S{i}", 1) for i in range(10)}
    long_state = DossierState(dossier_id="L", version=1, unit_code="x" * 3_000)
    long_raw = long_state.dumps()
    cache = StateCache(max_bytes=sum(cost(raw) for raw, _ in short.values()))
    for key, (raw, state) in short.items():
        cache.put(key.encode(), raw, state)
    assert len(cache) == 10
    cache.put(b"L", long_raw, long_state)
    assert cache.bytes <= cache.max_bytes
    assert 1 < len(cache) < 10 and cache.load(b"L", long_raw) is long_state  # old ones made room
    kept = cache.bytes
    cache.put(b"L", long_raw, long_state)  # the same key again is not counted twice
    assert cache.bytes == kept


def test_a_state_larger_than_the_whole_budget_is_still_kept_alone() -> None:
    cache = StateCache(max_bytes=10)
    raw, state = stored("D1", 1)
    cache.put(b"D1", raw, state)
    assert cache.load(b"D1", raw) is state and len(cache) == 1


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, 3)), max_size=40))
def test_whatever_the_sequence_a_load_equals_decoding_the_bytes(ops: list[tuple[str, int]]) -> None:
    cache = StateCache(max_bytes=3 * cost(stored("A", 0)[0]))
    for dossier, version in ops:
        raw, state = stored(dossier, version)
        if version % 2:
            cache.put(dossier.encode(), raw, state)
        loaded = cache.load(dossier.encode(), raw)
        assert loaded == DossierState.loads(raw)


def test_the_offline_budget_is_the_workers_default() -> None:
    assert WorkerSettings().state_cache_mib == DEFAULT_MIB
