"""Chinese sentiment engine: a small BERT trained in this project, served fast on a CPU.

Public API (used by the sentiment service and the CLI)::

    from trustscope.sentiment import load_classifier, SentimentResult
    clf = load_classifier()                # settings.sentiment_model_dir
    results = clf.classify(["很好用", "太坑了"])

Serving runs on ONNX Runtime when the model dir has ``model.onnx`` (no torch import; see
``classifier.py`` and ``TS_SENTIMENT_BACKEND``), else on torch. ``clf.pooled(texts)`` gives the
pooled embedding that auxiliary heads (``heads.py``) are trained on; ``clf.analyze(texts)`` gives
sentiment, every head (paid review, rumour text, ...) and the pooled embedding from one forward
pass (``Analysis(results, pooled)``). A per-source label-prior adjustment for services is in
``prior_store.PriorHook``.

Training lives in ``trustscope.sentiment.training`` (``trustscope model train``) and imports
torch only when called.
"""

from trustscope.sentiment.classifier import Analysis, SentimentClassifier, load_classifier
from trustscope.sentiment.result import SentimentResult

__all__ = ["Analysis", "SentimentClassifier", "SentimentResult", "load_classifier"]
