"""A sentiment-stage consumer that reads its batch and then hangs, so a test can kill it mid-batch.

Run as a separate process: ``python tests/integration/crashing_worker.py REDIS_URL PREFIX``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import redis

from trustscope.bus import Message, StreamBus
from trustscope.settings import Settings
from trustscope.worker import StreamWorker


class HangingStage:
    name = "sentiment"
    source = "ingest"
    dest = "scored"

    def process(self, messages: Sequence[Message]) -> list[dict[str, str]]:
        print(f"holding {len(messages)}", flush=True)
        time.sleep(3600)  # killed long before this returns
        return []


if __name__ == "__main__":
    redis_url, prefix = sys.argv[1], sys.argv[2]
    settings = Settings(redis_url=redis_url, stream_prefix=prefix, batch_size=50, batch_wait_ms=50)
    bus = StreamBus(redis.Redis.from_url(redis_url), prefix)
    StreamWorker(HangingStage(), bus, settings, consumer="doomed").run()
