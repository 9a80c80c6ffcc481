"""The integrity bench's paired reference (``bench_integrity.PairedReference``): a fresh engine that
ingests its history first, then runs one batch per measured batch, and accounts for everything it
spent so that the measured window can leave it out (docs/benchmarks.md, "Integrity, seventh
session"). No timing is asserted, only the bookkeeping."""

from __future__ import annotations

from tests.bench_loader import load_bench
from trustscope.integrity import IntegrityEngine


class _Counting(IntegrityEngine):
    """An in-memory engine that records the batches it is given."""

    def __init__(self) -> None:
        super().__init__(IntegrityEngine.in_memory().store)
        self.batches: list[list[str]] = []

    def process(self, batch):  # type: ignore[no-untyped-def]
        self.batches.append([ev.id for ev in batch])
        return super().process(batch)


def test_paired_reference_ingests_history_then_one_batch_per_step():
    bench = load_bench("bench_integrity")
    eng = _Counting()
    redis_cpu = iter(float(i) for i in range(100)).__next__  # a server that spends 1 s between reads
    calls = iter(range(0, 1000, 7)).__next__  # ... and runs 7 commands
    pr = bench.PairedReference(eng, "pool", history=300, window=128, batch=64, redis_cpu=redis_cpu,
                               redis_calls=calls)
    warm = sum(len(b) for b in eng.batches)
    assert warm == 300  # the history, untimed
    assert pr.n == 0 and pr.cpu == 0.0
    pr.step()
    pr.step()
    assert [len(b) for b in eng.batches[-2:]] == [64, 64]
    assert pr.n == 128
    # the stream continues where the history stopped: the window's reviews are the stream's next ones
    expected = [ev.id for ev in bench.stream(300 + 128, texts_mode="pool")][300:]
    assert eng.batches[-2] + eng.batches[-1] == expected
    assert pr.redis == 2.0 and pr.excl_redis == 2.0  # one second per step, left out of the window
    assert pr.calls == 14
    # what the window leaves out covers the reference's own time and its generation
    assert pr.excl_cpu >= pr.cpu >= 0.0
    assert pr.excl_user + pr.excl_sys >= pr.user + pr.sys - 1e-6
