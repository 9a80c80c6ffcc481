"""Start the pollers from a config file: shared by ``python -m services.ingest.poller`` and ``trustscope poll``."""

from __future__ import annotations

import signal
import threading

from trustscope.intake import Intake, redis_client
from trustscope.observability import get_logger
from trustscope.platforms import PlatformRegistry
from trustscope.pollers.config import ConfigError, load_config
from trustscope.pollers.runner import Poller, PollResult
from trustscope.settings import Settings, get_settings

log = get_logger("trustscope.pollers")


def run_pollers(config_path: str | None, once: bool = False, settings: Settings | None = None,
                install_signals: bool = True, stop_event: threading.Event | None = None) -> list[PollResult]:
    """Load the config, connect, and poll: forever (until SIGTERM/SIGINT or ``stop_event``), or
    each enabled source once with ``once``. Raises ``ConfigError`` for a missing or invalid config."""
    settings = settings or get_settings()
    path = config_path or settings.pollers_config
    if not path:
        raise ConfigError("no pollers config: pass --config FILE or set TS_POLLERS_CONFIG")
    config = load_config(path)
    if not config.enabled_sources:
        log.warning("poller.no_sources", config=str(path))
    client = redis_client(settings)
    registry = PlatformRegistry(client, settings.stream_prefix)
    try:
        registry.seed_defaults()  # linking needs the registry even when the ingest API never ran
    except Exception as exc:
        log.warning("poller.seed_failed", error=str(exc))
    try:
        with Poller(config, client, settings, Intake(client, settings, registry)) as poller:
            if stop_event is not None:
                poller.stop_event = stop_event
            if once:
                return poller.run_once(force=True)
            if install_signals:
                def _stop(signum: int, _frame: object) -> None:
                    log.info("poller.stopping", signal=signum)
                    poller.stop_event.set()

                signal.signal(signal.SIGTERM, _stop)
                signal.signal(signal.SIGINT, _stop)
            poller.run()
            return []
    finally:
        client.close()
