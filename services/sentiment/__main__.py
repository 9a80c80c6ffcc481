"""``python -m services.sentiment``: run one sentiment worker (scale by running more)."""

from services.sentiment.stage import build
from trustscope.gctune import tuned
from trustscope.worker import serve

if __name__ == "__main__":
    serve(tuned(build))
