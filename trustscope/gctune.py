"""Cyclic garbage-collector tuning for long-running stage processes.

Why: a stage process holds a large, long-lived heap (the loaded model, modules, bounded caches
that fill with history). CPython's cyclic collector re-scans long-lived objects on every full
collection and runs a young collection every 700 net allocations, so its cost per message grows
as the heap fills although the work per message does not (docs/benchmarks.md, "Integrity, fourth
session"). Two standard remedies, both applied once at start, after the stage is built:

* ``gc.freeze()`` moves everything alive then (model weights' Python objects, imported modules,
  compiled scripts) to a permanent generation that collections no longer traverse;
* higher thresholds (``gc.set_threshold``) make young collections rarer and promote fewer
  short-lived objects into the generations that full collections scan.

Neither changes what the program computes: reference counting still frees every acyclic object
at once, and cycles are still collected, only less often (the memory a process holds is measured
in docs/benchmarks.md). ``TS_GC_THRESHOLDS=""`` and ``TS_GC_FREEZE=false`` keep Python's defaults.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from trustscope.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class GcPolicy:
    """What to do to the collector: thresholds (None = leave them) and whether to freeze."""

    thresholds: tuple[int, ...] | None
    freeze: bool

    @classmethod
    def parse(cls, thresholds: str, freeze: bool) -> "GcPolicy":
        """``"50000,20,20"`` (1-3 positive integers) or ``""`` for Python's own thresholds."""
        text = thresholds.strip()
        if not text:
            return cls(None, freeze)
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError as exc:
            raise ValueError(f"TS_GC_THRESHOLDS: expected up to 3 comma-separated integers, got {thresholds!r}") \
                from exc
        if not 1 <= len(values) <= 3 or any(v <= 0 for v in values):
            raise ValueError(f"TS_GC_THRESHOLDS: expected 1-3 positive integers, got {thresholds!r}")
        return cls(values, freeze)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "GcPolicy":
        return cls.parse(settings.gc_thresholds, settings.gc_freeze)


def apply(policy: GcPolicy) -> None:
    """Apply the policy to this process (call once, after the long-lived state is loaded)."""
    before = gc.get_threshold()
    if policy.thresholds is not None:
        gc.set_threshold(*policy.thresholds)
    frozen = 0
    if policy.freeze:
        gc.collect()  # free what start-up left as garbage first, so that it is not frozen forever
        gc.freeze()
        frozen = gc.get_freeze_count()
    log.info("gc_tuned", extra={"thresholds_before": list(before), "thresholds": list(gc.get_threshold()),
                                "frozen_objects": frozen})


def tuned(factory: Callable[..., T]) -> Callable[..., T]:
    """Wrap a stage factory so that the settings' collector policy is applied once it has built."""

    def build(settings: "Settings", *args, **kwargs) -> T:  # type: ignore[no-untyped-def]
        stage = factory(settings, *args, **kwargs)
        apply(GcPolicy.from_settings(settings))
        return stage

    build.__doc__ = factory.__doc__
    return build
