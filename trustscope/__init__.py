"""TrustScope: trustworthy signals from what people say about Chinese internet-finance platforms.

The package is the shared core (schemas, settings, stream bus, Elasticsearch mappings) and the
engines (sentiment, integrity, rumour, score). Services in ``services/`` and the ``trustscope``
CLI are thin shells over it.
"""

__version__ = "0.1.0"
