"""The fuzz suite: bounded, reproducible property and API fuzzing.

It reuses the integration fixtures (real Redis and Elasticsearch, live servers). Hypothesis runs
derandomised and without an example database by default, so CI sees the same examples every run
(never flaky) and nothing is written into the checkout; ``TS_FUZZ_RANDOM=1`` explores new examples.
"""

import os
from pathlib import Path

from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.integration.conftest import bus, es, live_server, prefix, rclient, settings  # noqa: F401

hypothesis_settings.register_profile("trustscope-ci", database=None, derandomize=True, print_blob=True)
hypothesis_settings.register_profile("trustscope-random", database=None, derandomize=False, print_blob=True)
hypothesis_settings.load_profile("trustscope-random" if os.environ.get("TS_FUZZ_RANDOM") == "1" else "trustscope-ci")
# Hypothesis' caches (unicode tables, constants) live with the other caches, outside the checkout.
set_hypothesis_home_dir(str(Path(os.environ.get("TS_CACHE_DIR") or Path.home() / ".cache" / "trustscope") / "hypothesis"))
