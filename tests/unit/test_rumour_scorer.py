"""The integrity stage's rumour scorer: the shipped model scores social posts, the lexicon keeps
its phrase hits as ``rumour.terms`` and scores reviews/news, and no model means lexicon only."""

from __future__ import annotations

import pytest

from services.integrity.stage import IntegrityStage
from trustscope.bus import Message
from trustscope.rumour.lexicon import ENGINE as LEXICON_ENGINE
from trustscope.rumour.lexicon import score_text
from trustscope.rumour.model import DEFAULT_DIR
from trustscope.rumour.scorer import RumourScorer
from trustscope.schemas import DocumentIn, Kind

needs_model = pytest.mark.skipif(not (DEFAULT_DIR / "model.json").exists(),
                                 reason=f"no shipped rumour model at {DEFAULT_DIR}")


class NoReviews:
    def process(self, events):
        return []


def _doc(kind: Kind, text: str, n: int):
    extra = {"rating": 1} if kind is Kind.review else {}
    return DocumentIn(kind=kind, source="weibo", source_id=f"s{n}", text=text,
                      created_at="2026-01-01T00:00:00Z", **extra).to_document(["p2pdemo"])


def _process(scorer: RumourScorer, docs):
    stage = IntegrityStage(NoReviews(), rumour=scorer)
    msgs = [Message("scored", f"{i}-0", {"doc": d.to_json()}) for i, d in enumerate(docs)]
    return [__import__("orjson").loads(o["doc"]) for o in stage.process(msgs)]


TEXTS = ["紧急扩散！网传某平台老板已跑路，提现困难，大家赶紧转发", "今天平台发布了新版本，界面更好用了"]


@needs_model
def test_social_posts_get_the_model_reviews_the_lexicon():
    scorer = RumourScorer.from_dir(DEFAULT_DIR)
    assert scorer.model is not None
    docs = [_doc(Kind.social, TEXTS[0], 0), _doc(Kind.social, TEXTS[1], 1), _doc(Kind.review, TEXTS[0], 2)]
    out = _process(scorer, docs)
    social, calm, review = (o["rumour"] for o in out)
    assert social["engine"] == calm["engine"] == scorer.model.engine
    assert social["terms"] == score_text(docs[0].text_simplified).terms == ["提现困难", "跑路"]
    assert 0.0 <= calm["score"] <= 1.0 and social["score"] != calm["score"]
    assert review["engine"] == LEXICON_ENGINE and review["score"] == score_text(docs[2].text_simplified).score


def test_without_a_model_everything_is_lexicon(tmp_path):
    scorer = RumourScorer.from_dir(tmp_path)
    assert scorer.model is None
    out = _process(scorer, [_doc(Kind.social, TEXTS[0], 0), _doc(Kind.news, TEXTS[1], 1)])
    assert [o["rumour"]["engine"] for o in out] == [LEXICON_ENGINE, LEXICON_ENGINE]
    assert out[0]["rumour"]["terms"] == ["提现困难", "跑路"]
    assert _process(RumourScorer(None), []) == []
