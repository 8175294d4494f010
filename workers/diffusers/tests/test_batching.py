"""Unit tests of the dynamic batcher with a fake pipeline (no torch, no HTTP)."""

from __future__ import annotations

import threading
import time

import pytest

from drover_worker.batching import BatchKey, DynamicBatcher, ImageSpec, Job, QueueFullError

A = BatchKey(64, 64, 2, 7.5)
B = BatchKey(64, 128, 2, 7.5)
C = BatchKey(64, 64, 3, 7.5)


class FakePipeline:
    """Records every call; each result names the spec it was made for."""

    def __init__(self, fail_on_call=None):
        self.calls = []
        self.fail_on_call = fail_on_call
        self.lock = threading.Lock()

    def __call__(self, key, specs):
        with self.lock:
            self.calls.append((key, [s.prompt for s in specs]))
            if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
                raise RuntimeError("boom")
        return [(key, s.prompt, s.seed) for s in specs]


def job(key, *prompts, seed=0):
    return Job(key, [ImageSpec(p, "", seed + i) for i, p in enumerate(prompts)])


def wait_until(predicate, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition not reached before the deadline")


@pytest.fixture
def make_batcher():
    made = []

    def make(fake, **kw):
        b = DynamicBatcher(fake, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop(timeout=10)


def test_compatible_jobs_share_one_call(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=3, batch_wait_s=30.0)
    jobs = [b.submit(job(A, f"p{i}", seed=10 * i)) for i in range(3)]
    b.start()  # all three are queued before the worker looks: one full batch, no waiting
    results = [j.wait(timeout=10) for j in jobs]
    assert fake.calls == [(A, ["p0", "p1", "p2"])]
    assert results == [[(A, "p0", 0)], [(A, "p1", 10)], [(A, "p2", 20)]]
    assert b.stats()["pipeline_calls"] == 1 and b.stats()["images_generated"] == 3


def test_incompatible_jobs_are_not_mixed_and_keep_order(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=8, batch_wait_s=0.0)
    jobs = [b.submit(job(k, name)) for k, name in
            [(A, "a1"), (B, "b1"), (A, "a2"), (C, "c1"), (B, "b2")]]
    b.start()
    for j in jobs:
        j.wait(timeout=10)
    assert fake.calls == [(A, ["a1", "a2"]), (B, ["b1", "b2"]), (C, ["c1"])]
    for j in jobs:
        assert all(r[0] == j.key for r in j.results)


def test_large_job_is_split_and_reassembled_in_order(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=3, batch_wait_s=0.0)
    big = b.submit(job(A, *[f"p{i}" for i in range(8)], seed=100))
    small = b.submit(job(A, "x", seed=7))
    b.start()
    assert [r[1:] for r in big.wait(timeout=10)] == [(f"p{i}", 100 + i) for i in range(8)]
    assert small.wait(timeout=10) == [(A, "x", 7)]
    assert [len(p) for _, p in fake.calls] == [3, 3, 3]  # 8 + 1 images, max 3 per call
    assert fake.calls[-1][1] == ["p6", "p7", "x"]


def test_batch_fill_respects_max_batch_and_partial_jobs(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=4, batch_wait_s=0.0)
    j1 = b.submit(job(A, "a", "b", "c"))
    j2 = b.submit(job(A, "d", "e"))
    b.start()
    j1.wait(timeout=10)
    j2.wait(timeout=10)
    assert fake.calls == [(A, ["a", "b", "c", "d"]), (A, ["e"])]
    assert [r[1] for r in j2.results] == ["d", "e"]


def test_worker_waits_for_late_compatible_request(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=2, batch_wait_s=30.0)
    b.start()
    first = b.submit(job(A, "early"))
    wait_until(lambda: b.queue_depth() == 0)  # the worker took it and is collecting
    assert not first.done()
    second = b.submit(job(A, "late"))  # fills the batch: the call starts now, not after 30 s
    first.wait(timeout=10)
    second.wait(timeout=10)
    assert fake.calls == [(A, ["early", "late"])]


def test_no_wait_window_means_separate_calls(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=8, batch_wait_s=0.0)
    b.start()
    first = b.submit(job(A, "one"))
    first.wait(timeout=10)
    b.submit(job(A, "two")).wait(timeout=10)
    assert fake.calls == [(A, ["one"]), (A, ["two"])]


def test_queue_full_raises(make_batcher):
    b = make_batcher(FakePipeline(), max_batch=1, batch_wait_s=0.0, max_queue=2)
    b.submit(job(A, "1"))
    b.submit(job(A, "2"))
    with pytest.raises(QueueFullError):
        b.submit(job(A, "3"))
    assert b.queue_depth() == 2


def test_pipeline_failure_fails_only_that_batch(make_batcher):
    fake = FakePipeline(fail_on_call=1)
    b = make_batcher(fake, max_batch=8, batch_wait_s=0.0)
    bad = b.submit(job(A, "x"))
    good = b.submit(job(B, "y"))
    b.start()
    with pytest.raises(RuntimeError, match="boom"):
        bad.wait(timeout=10)
    assert good.wait(timeout=10) == [(B, "y", 0)]
    stats = b.stats()
    assert stats["pipeline_calls"] == 2 and stats["failed_calls"] == 1
    assert stats["images_generated"] == 1


def test_stop_fails_queued_jobs(make_batcher):
    b = make_batcher(FakePipeline(), max_batch=1, batch_wait_s=0.0)
    j = b.submit(job(A, "never"))
    b.stop(timeout=5)
    with pytest.raises(Exception, match="shutting down"):
        j.wait(timeout=5)


def test_adapters_are_part_of_the_key(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=8, batch_wait_s=0.0)
    style = BatchKey(64, 64, 2, 7.5, "style")
    jobs = [b.submit(job(k, name)) for k, name in
            [(A, "base1"), (style, "s1"), (A, "base2"), (style, "s2")]]
    b.start()
    for j in jobs:
        j.wait(timeout=10)
    assert fake.calls == [(A, ["base1", "base2"]), (style, ["s1", "s2"])]


class RecordingObserver:
    def __init__(self):
        self.calls = []

    def batch_done(self, key, n_images, queue_waits_s, call_s, ok):
        self.calls.append((key, n_images, list(queue_waits_s), call_s, ok))


def test_observer_sees_each_call_before_its_jobs_finish(make_batcher):
    now = [100.0]
    observer = RecordingObserver()
    seen_done = []

    def run(key, specs):
        now[0] += 2.5  # the call "takes" 2.5 s on the fake clock
        return [(key, s.prompt, s.seed) for s in specs]

    b = make_batcher(run, max_batch=3, batch_wait_s=0.0, clock=lambda: now[0],
                     observer=observer)
    first = b.submit(job(A, "a", "b"))
    now[0] += 1.0
    second = b.submit(job(A, "c", "d"))  # split: 1 image in the first call, 1 in the next
    first.add_done_callback(lambda j: seen_done.append(len(observer.calls)))
    b.start()
    second.wait(timeout=10)
    assert [(c[1], c[2], c[3], c[4]) for c in observer.calls] == [
        (3, [1.0, 0.0], 2.5, True), (1, [], 2.5, True)]  # a split job's wait counts once
    assert seen_done == [1]  # metrics were recorded before the request was answered


def test_done_callback_runs_once_also_when_added_late(make_batcher):
    b = make_batcher(FakePipeline(), max_batch=1, batch_wait_s=0.0)
    j = b.submit(job(A, "x"))
    calls = []
    j.add_done_callback(calls.append)
    b.start()
    j.wait(timeout=10)
    j.add_done_callback(calls.append)  # already done: called at once
    assert calls == [j, j]


def test_cancel_drops_only_jobs_that_have_not_started(make_batcher):
    fake = FakePipeline()
    b = make_batcher(fake, max_batch=1, batch_wait_s=0.0)
    queued = b.submit(job(A, "never"))
    kept = b.submit(job(B, "kept"))
    assert b.cancel(queued) is True
    assert b.cancel(queued) is False  # not queued any more
    with pytest.raises(Exception, match="cancelled"):
        queued.wait(timeout=1)
    b.start()
    kept.wait(timeout=10)
    assert b.cancel(kept) is False  # finished jobs are not touched
    assert fake.calls == [(B, ["kept"])]


def test_alive_follows_the_worker_thread(make_batcher):
    b = make_batcher(FakePipeline(), max_batch=1, batch_wait_s=0.0)
    assert not b.alive()
    b.start()
    assert b.alive()
    b.stop(timeout=10)
    assert not b.alive()
