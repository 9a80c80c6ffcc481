"""The stage processes' collector policy (trustscope.gctune): parsed from settings, applied once
the stage is built, and cycles are still collected afterwards."""

from __future__ import annotations

import gc
import weakref

import pytest

from trustscope import gctune
from trustscope.settings import Settings


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_parse_and_settings() -> None:
    assert gctune.GcPolicy.parse("50000,20,20", True) == gctune.GcPolicy((50000, 20, 20), True)
    assert gctune.GcPolicy.parse(" ", False) == gctune.GcPolicy(None, False)
    assert gctune.GcPolicy.parse("1000", False).thresholds == (1000,)
    for bad in ("a,b", "0,10,10", "1,2,3,4", "-5"):
        with pytest.raises(ValueError, match="TS_GC_THRESHOLDS"):
            gctune.GcPolicy.parse(bad, True)
    s = Settings(gc_thresholds="9000,11,12", gc_freeze=False)
    assert gctune.GcPolicy.from_settings(s) == gctune.GcPolicy((9000, 11, 12), False)
    assert gctune.GcPolicy.from_settings(Settings()).thresholds == (50000, 20, 20)  # the documented default


def test_tuned_applies_after_build_and_cycles_still_die(restore_gc) -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, ...]] = []

    def build(settings: Settings, client: object) -> str:
        """The stage factory."""
        seen.append(gc.get_threshold())
        return f"stage:{client}"

    factory = gctune.tuned(build)
    assert factory.__doc__ == build.__doc__
    stage = factory(Settings(gc_thresholds="40000,15,25", gc_freeze=True), "redis")
    assert stage == "stage:redis"
    assert seen == [(700, 10, 10)]  # the factory ran with the old policy ...
    assert gc.get_threshold() == (40000, 15, 25)  # ... and the new one holds afterwards
    assert gc.get_freeze_count() > 0  # start-up objects frozen

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the collector frees it
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None


def test_empty_policy_leaves_python_alone(restore_gc) -> None:
    gc.set_threshold(700, 10, 10)
    gctune.apply(gctune.GcPolicy.parse("", False))
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0
