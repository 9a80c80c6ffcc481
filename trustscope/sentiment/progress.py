"""A tiny progress-bar wrapper so training shows progress in a terminal and stays quiet in logs.

Why: tqdm writes carriage-return spam into nohup log files; here the bar is shown only on a TTY
and the training loops log a plain line every N steps instead.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


class _Bar:
    def __init__(self, tqdm_bar):
        self._bar = tqdm_bar

    def update(self, n: int = 1, **postfix) -> None:
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix({k: f"{v:.4g}" if isinstance(v, float) else v
                                       for k, v in postfix.items()}, refresh=False)


@contextmanager
def progress_bar(desc: str, total: int):
    """Yield an object with ``update(n, **postfix)``; a tqdm bar on a TTY, a no-op otherwise."""
    bar = None
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, dynamic_ncols=True)
    try:
        yield _Bar(bar)
    finally:
        if bar is not None:
            bar.close()
