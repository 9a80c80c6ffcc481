"""``python -m services.ingest.poller [--config FILE] [--once]``: the ingest pollers as a process.

Polls the feeds and JSON APIs listed in the YAML file (``--config`` or ``TS_POLLERS_CONFIG``) and
submits their items through the same ``Intake`` as the ingest API. Run as many replicas as you
like: sources are leased per poll in Redis. Stops cleanly on SIGTERM/SIGINT. Metrics on
``TS_METRICS_PORT`` when set. The logic is in ``trustscope.pollers``.
"""

from __future__ import annotations

import argparse
import sys

from trustscope.observability import configure_logging
from trustscope.pollers import ConfigError
from trustscope.pollers.process import run_pollers
from trustscope.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ingest.poller",
                                     description="Poll RSS/Atom feeds and JSON APIs into the ingest stream.")
    parser.add_argument("--config", help="pollers YAML (default: TS_POLLERS_CONFIG)")
    parser.add_argument("--once", action="store_true", help="poll every enabled source once and exit")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.metrics_port and not args.once:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port)
    try:
        results = run_pollers(args.config, args.once, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if any(r.outcome == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
