"""Reference classifiers the BERT must beat on the same held-out texts: SnowNLP and char TF-IDF+LR."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.base import BaseEstimator, TransformerMixin  # baselines are a training/bench module


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


def _jieba_words(text: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(text) if w.strip()]


def _word_ngrams(text: str) -> list[str]:
    """jieba words and word bigrams (module-level so a fitted pipeline pickles)."""
    w = _jieba_words(text)
    return w + [a + " " + b for a, b in zip(w, w[1:])]


# Variants of the TF-IDF member of an ensemble (docs/benchmarks.md, "Sentiment, fourth session").
# char13 is issue 14's baseline; the others are candidates chosen on validation reviews only.
TFIDF_VARIANTS = ("char13", "char14", "word_char", "nb_char13")


def tfidf_variant(variant: str, train_texts: Sequence[str], train_labels: Sequence[int], seed: int = 13):
    """A fitted pipeline (``decision_function`` = its logit) for one of ``TFIDF_VARIANTS``.

    word_char: char 1-3-grams beside jieba word 1-2-grams (words the characters split up);
    nb_char13: char 1-3-grams scaled by their naive-Bayes log-count ratio before the LR
    (Wang and Manning 2012, "NBSVM"), which often helps linear sentiment models.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    texts, labels = list(train_texts), list(train_labels)
    lr = LogisticRegression(C=4.0, max_iter=2000, random_state=seed)
    if variant == "char13":
        return tfidf_lr(texts, labels, seed)
    if variant == "char14":
        vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), min_df=2, sublinear_tf=True)
    elif variant == "word_char":
        vec = make_union(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
            TfidfVectorizer(analyzer=_word_ngrams, min_df=2, sublinear_tf=True))
    elif variant == "nb_char13":
        vec = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
                            NBScaler())
    else:
        raise ValueError(f"unknown TF-IDF variant {variant!r}; one of {TFIDF_VARIANTS}")
    pipe = make_pipeline(vec, lr)
    pipe.fit(texts, labels)
    return pipe


class NBScaler(TransformerMixin, BaseEstimator):
    """Scales each feature column by log(p(f | pos) / p(f | neg)) with add-one smoothing (fit on y)."""

    def fit(self, X, y):
        import numpy as np

        y = np.asarray(y)
        p = np.asarray(X[y == 1].sum(0)).ravel() + 1.0
        q = np.asarray(X[y == 0].sum(0)).ravel() + 1.0
        self.r_ = np.log((p / p.sum()) / (q / q.sum()))
        return self

    def transform(self, X):
        return X.multiply(self.r_).tocsr()

    def fit_transform(self, X, y=None, **_):
        return self.fit(X, y).transform(X)


def snownlp_predict(texts: Sequence[str]) -> list[int]:
    """SnowNLP's bundled sentiment model (trained on shopping reviews); positive when > 0.5."""
    from snownlp import SnowNLP

    return [int(SnowNLP(t).sentiments > 0.5) for t in texts]
