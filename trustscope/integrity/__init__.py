"""Review integrity: fake and coordinated review detection, verdicts with reasons, verified scores.

    from trustscope.integrity import IntegrityEngine, ReviewEvent, VerdictUpdate
    engine = IntegrityEngine.from_redis(client, prefix="ts:int")   # state shared by replicas
    engine = IntegrityEngine.in_memory()                            # tests, batch CLI
    updates = engine.process([ReviewEvent(...), ...])

See docs/integrity.md for the signals, the combiner's formula and thresholds, and the verified score.
"""

from trustscope.integrity.engine import IntegrityEngine
from trustscope.integrity.models import ReviewEvent, ReviewInputError, VerdictUpdate

__all__ = ["IntegrityEngine", "ReviewEvent", "ReviewInputError", "VerdictUpdate"]
