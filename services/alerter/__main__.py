"""``python -m services.alerter``: the alert stage (stories, baselines, alerts) and, in a second
thread, the dispatcher that delivers alert events to subscriptions. ``python -m services.alerter
stage`` or ``dispatch`` runs one of them alone (scale the stage by running more of it)."""

import asyncio
import sys
import threading

from services.alerter.stage import build
from trustscope.alerts.config import AlertConfig
from trustscope.alerts.delivery import Dispatcher
from trustscope.gctune import tuned
from trustscope.settings import get_settings
from trustscope.worker import serve


def dispatch() -> None:
    settings = get_settings()
    asyncio.run(Dispatcher(settings, AlertConfig.from_settings(settings)).run())


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "all"
    if mode == "dispatch":
        dispatch()
    else:
        if mode == "all":
            threading.Thread(target=dispatch, name="dispatcher", daemon=True).start()
        serve(tuned(build))
