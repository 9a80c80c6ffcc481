"""Pollers: pull RSS/Atom feeds and JSON APIs on a schedule and feed the items through ``Intake``.

The library behind ``python -m services.ingest.poller`` and ``trustscope poll``. Modules, one job
each: ``config`` (the YAML file), ``fetch`` (conditional, retried HTTP), ``feed`` and ``jsonapi``
(responses to ``DocumentIn``), ``mapping`` (the JSON field mapping), ``htmltext`` (HTML to text),
``state`` (per-source state in Redis), ``runner`` (the poll loop).
"""

from trustscope.pollers.config import ConfigError, FeedSource, JsonSource, PollersConfig, load_config, parse_config
from trustscope.pollers.runner import Poller, PollResult

__all__ = ["ConfigError", "FeedSource", "JsonSource", "PollResult", "Poller", "PollersConfig", "load_config",
           "parse_config"]
