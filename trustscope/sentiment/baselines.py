"""Reference classifiers the BERT must beat on the same held-out texts: SnowNLP and char TF-IDF+LR."""

from __future__ import annotations

from collections.abc import Sequence


def tfidf_lr(train_texts: Sequence[str], train_labels: Sequence[int], seed: int = 13):
    """Character 1-3-gram TF-IDF + logistic regression; returns a fitted sklearn pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed),
    )
    pipe.fit(list(train_texts), list(train_labels))
    return pipe


def snownlp_predict(texts: Sequence[str]) -> list[int]:
    """SnowNLP's bundled sentiment model (trained on shopping reviews); positive when > 0.5."""
    from snownlp import SnowNLP

    return [int(SnowNLP(t).sentiments > 0.5) for t in texts]
