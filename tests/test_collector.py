"""The garbage collector's threshold during bulk work: raised while any block runs, restored
after the last one, whichever thread ends last."""

from __future__ import annotations

import gc
import threading

from plumb.core.collector import BULK_THRESHOLD, fewer_collections


def test_threshold_is_raised_inside_and_restored_after_nested_blocks() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == BULK_THRESHOLD
        with fewer_collections():
            assert gc.get_threshold()[0] == BULK_THRESHOLD
        assert gc.get_threshold()[0] == BULK_THRESHOLD  # the outer block still runs
    assert gc.get_threshold() == before


def test_overlapping_blocks_in_two_threads_restore_the_original_threshold() -> None:
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with fewer_collections():
            second_in.set()
            first_out.wait(5)
            seen.append(gc.get_threshold()[0])  # the first thread has left: still raised

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [BULK_THRESHOLD]
    assert gc.get_threshold() == before


def test_a_switched_off_collector_is_left_alone() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
