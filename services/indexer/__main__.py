"""``python -m services.indexer``: run one indexer worker (applies the ES migration at start)."""

from services.indexer.stage import build
from trustscope.gctune import tuned
from trustscope.worker import serve

if __name__ == "__main__":
    serve(tuned(build))
