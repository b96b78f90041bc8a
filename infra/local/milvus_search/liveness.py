"""Which rows a search may return: each key's newest row, unless a later delete covers it. Computed per segment
generation, then patched with what changed since (the memtable and the tombstones)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Winner = tuple[int, int, int]  # (seq, segment number, row) of a key's newest row in the sealed segments


@dataclass(frozen=True)
class Generation:
    """The sealed segments of one search scope, and for each key its newest row among them."""

    segments: tuple[Any, ...]
    winners: dict[Any, Winner]
    masks: tuple[np.ndarray, ...]  # per segment: True where the row is its key's newest among the segments

    @classmethod
    def of(cls, segments: Sequence[Any]) -> Generation:
        winners: dict[Any, Winner] = {}
        for number, segment in enumerate(segments):
            for row, (pk, seq) in enumerate(zip(segment.pks, segment.seqs.tolist(), strict=True)):
                held = winners.get(pk)
                if held is None or seq > held[0]:
                    winners[pk] = (seq, number, row)
        masks = [np.zeros(segment.num_rows, dtype=bool) for segment in segments]
        for _, number, row in winners.values():
            masks[number][row] = True
        return cls(tuple(segments), winners, tuple(masks))


class Generations:
    """The latest ``Generation`` per memtable (a flush starts a new memtable, so old entries go with it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: weakref.WeakKeyDictionary[Any, Generation] = weakref.WeakKeyDictionary()

    def get(self, memtable: Any, segments: Sequence[Any]) -> Generation:
        with self._lock:
            held = self._latest.get(memtable)
        if held is not None and len(held.segments) == len(segments) and all(
                a is b for a, b in zip(held.segments, segments, strict=True)):
            return held
        built = Generation.of(segments)  # outside the lock: concurrent searches build the same thing
        with self._lock:
            self._latest[memtable] = built
        return built


def live_rows(generation: Generation, mt_pks: Sequence[Any], mt_seqs: Sequence[int], tombstones: dict[Any, int],
              mt_deletes: dict[Any, tuple[int, Any]], delete_applies: Callable[[Any, Any], bool]
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """Per segment and for the memtable rows: True where the row is its key's newest and no later delete covers it.
    ``tombstones`` is the delta index (key → delete seq), ``mt_deletes`` the memtable's (key → (seq, partition)),
    ``delete_applies(partition of the delete, segment)`` Milvus Lite's partition rule for the latter."""
    masks = [mask.copy() for mask in generation.masks]
    winners = generation.winners
    mt_seqs = [int(seq) for seq in mt_seqs]
    newest: dict[Any, int] = {}
    for pk, seq in zip(mt_pks, mt_seqs, strict=True):
        if seq > newest.get(pk, -1):
            newest[pk] = seq

    def shadow(pk: Any, seq: int, applies: Callable[[Any], bool] = lambda _: True) -> None:
        held = winners.get(pk)
        if held is not None and seq > held[0] and applies(generation.segments[held[1]]):
            masks[held[1]][held[2]] = False

    for pk, seq in newest.items():
        shadow(pk, seq)
    for pk, seq in tombstones.items():
        shadow(pk, seq)
    for pk, (seq, partition) in mt_deletes.items():
        shadow(pk, seq, lambda segment, partition=partition: delete_applies(partition, segment))

    memtable = np.zeros(len(mt_pks), dtype=bool)
    for i, (pk, seq) in enumerate(zip(mt_pks, mt_seqs, strict=True)):
        held = winners.get(pk)
        pending = mt_deletes.get(pk)
        memtable[i] = (seq == newest[pk] and (held is None or seq > held[0]) and tombstones.get(pk, -1) <= seq
                       and (pending is None or pending[0] <= seq))
    return masks, memtable
