"""The in-fold fine-tune harness's cross-fitting: no fine-tune sees an outer test post, and every
training post gets its logit from a fine-tune that did not train on it (the fine-tune itself is
replaced by a recorder: this tests the bookkeeping, not torch)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from trustscope.rumour import finetune as F  # noqa: E402


def test_cross_fit_keeps_test_posts_out_and_training_logits_out_of_fold(monkeypatch):
    seen: list[set[str]] = []

    def fake_finetune(texts, labels, cfg, init_dir=None, log=print):
        seen.append(set(texts))
        return len(seen) - 1, None

    def fake_logits(model, tok, texts, max_length=128):
        # +1 for a text this fine-tune trained on (a leak would show as +1), -1 otherwise
        return np.asarray([1.0 if t in seen[model] else -1.0 for t in texts])

    monkeypatch.setattr(F, "finetune_posts", fake_finetune)
    monkeypatch.setattr(F, "post_logits", fake_logits)
    texts = [f"帖子{i}" for i in range(40)]
    y = np.asarray([i % 2 for i in range(40)])
    train, test = np.arange(30), np.arange(30, 40)
    oof, test_logit = F.cross_fit(texts, y, train, test, F.RumourFinetuneConfig(), folds=3, log=lambda *_: None)
    assert len(seen) == 3
    assert all(not (s & {texts[i] for i in test}) for s in seen)
    assert (oof == -1.0).all() and (test_logit == -1.0).all()
    # each training post is in exactly two of the three fine-tunes' training sets
    counts = [sum(texts[i] in s for s in seen) for i in train]
    assert counts == [2] * len(train)
