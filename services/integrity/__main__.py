"""``python -m services.integrity``: run one integrity worker (replicas share state in Redis)."""

from services.integrity.stage import build
from trustscope.gctune import tuned
from trustscope.worker import serve

if __name__ == "__main__":
    serve(tuned(build))
