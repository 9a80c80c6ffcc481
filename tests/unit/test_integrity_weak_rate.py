"""Rate-aware weak-account bursts: the share of young, one-review accounts against the platform's history."""

import random

from trustscope.integrity import IntegrityEngine, ReviewEvent
from trustscope.integrity.detectors import weak_rate

T0 = 1_735_689_600.0
DAY = 86_400.0


def test_strength_needs_both_surprise_and_lift():
    assert weak_rate.strength(40, 60, 100, 400)[0] == 1.0  # 67% against 25%: sure and large
    assert weak_rate.strength(20, 60, 100, 400)[0] == 0.0  # 33% against 25%: a small rise
    assert weak_rate.strength(5, 8, 100, 400)[0] == 0.0  # too few reviews to say
    s_small, *_ = weak_rate.strength(9, 12, 0, 0)  # no history: the prior's uncertainty
    s_hist, *_ = weak_rate.strength(9, 12, 250, 1000)
    assert s_small < s_hist


def _stream(wave: str, seed: int = 3):
    """60 days of a platform (10 reviews a day, a quarter from newcomers), then a wave on days 40-52."""
    r = random.Random(seed)
    out, labels = [], {}
    for d in range(60):
        for k in range(10):
            t = T0 + (d + r.random()) * DAY
            weak = r.random() < 0.25
            rid = f"h{d}-{k}"
            rating = 5 if r.random() < 0.6 else 1
            out.append(ReviewEvent(id=rid, platform="p", author_id=f"a{d}-{k}" if weak else f"old{r.randrange(900)}",
                                   rating=rating, text=f"第{d}天第{k}条", created_at=t,
                                   author_created_at=t - (1 if weak else 500) * DAY,
                                   author_review_count=1 if weak else 9))
            labels[rid] = "honest"
        if 40 <= d < 52:
            for k in range(8):
                t = T0 + (d + r.random()) * DAY
                rid = f"w{d}-{k}"
                if wave == "campaign":  # newcomers with five stars, nobody else more than usual
                    out.append(ReviewEvent(id=rid, platform="p", author_id=f"c{d}-{k}", rating=5,
                                           text=f"挺好{d}{k}", created_at=t, author_created_at=t - 20 * DAY,
                                           author_review_count=1))
                    labels[rid] = "campaign"
                else:  # an outage: everybody complains, aged users as much as newcomers
                    weak = r.random() < 0.3
                    out.append(ReviewEvent(id=rid, platform="p", author_id=f"o{d}-{k}", rating=1,
                                           text=f"提现不到账{d}{k}", created_at=t,
                                           author_created_at=t - (1 if weak else 400) * DAY,
                                           author_review_count=1 if weak else 6))
                    labels[rid] = "honest"
    out.sort(key=lambda e: e.created_at)
    return out, labels


def _run(events):
    engine = IntegrityEngine.in_memory()
    for i in range(0, len(events), 32):
        engine.process(events[i:i + 32])
    return {u.id: u for u in engine.current([e.id for e in events])}


def test_a_newcomer_wave_is_found_and_its_first_days_are_revised():
    events, labels = _stream("campaign")
    v = _run(events)
    camp = [rid for rid, lab in labels.items() if lab == "campaign"]
    hit = [rid for rid in camp if v[rid].signals.get("weak_rate", 0) >= 0.5]
    assert len(hit) >= 0.9 * len(camp)
    assert any(rid.startswith("w40-") for rid in hit)  # the wave's first day, revised by later days
    before = [e.id for e in events if e.created_at < T0 + 30 * DAY]
    assert max(v[rid].signals.get("weak_rate", 0) for rid in before) < 0.15  # honest days: noise at most


def test_an_outage_where_everybody_complains_is_not_a_weak_account_wave():
    events, labels = _stream("outage")
    v = _run(events)
    assert max(v[e.id].signals.get("weak_rate", 0) for e in events) < 0.15  # noise at most, no wave


def test_excess_share_is_what_history_does_not_explain():
    # history: a quarter of reviews weak (odds 1/3); 30 established reviews expect 10 weak ones
    assert abs(weak_rate.excess_share(10, 40, 250, 1000) - 0.0) < 0.01
    assert abs(weak_rate.excess_share(40, 70, 250, 1000) - 0.75) < 0.01
    assert weak_rate.excess_share(0, 30, 250, 1000) == 0.0
    window = (100, 150, 250, 1000, 40)
    assert weak_rate.strength(*window, 40, 70)[0] > 0.8  # the wave's own days: mostly excess
    assert weak_rate.strength(*window, 3, 30)[0] == 0.0  # a day next to the wave, with no excess


def test_honest_newcomers_just_after_a_wave_get_no_signal():
    events, labels = _stream("campaign")
    v = _run(events)
    after = [e.id for e in events if T0 + 54 * DAY <= e.created_at and labels[e.id] == "honest"]
    assert after and max(v[rid].signals.get("weak_rate", 0) for rid in after) < 0.05  # noise at most


def test_betabinom_sf_is_scipys_bit_for_bit() -> None:
    """The fast tail is scipy's own ``betabinom.sf``, exactly (verdicts must not move by a bit)."""
    from scipy.stats import betabinom

    rng = random.Random(13)
    cases = [(0, 10, 1.0, 3.0), (-1, 10, 1.0, 3.0), (10, 10, 2.0, 5.0), (12, 10, 2.0, 5.0)]
    for _ in range(3000):
        n = rng.choice([rng.randint(10, 60), rng.randint(10, 400), rng.randint(10, 3000)])
        n_hist = rng.choice([0, rng.randint(0, 100), rng.randint(0, 5000), rng.randint(0, 200_000)])
        w_hist = rng.randint(0, n_hist)
        cases.append((rng.randint(weak_rate.MIN_WEAK, n) - 1, n, weak_rate.A0 + w_hist,
                      weak_rate.B0 + n_hist - w_hist))
    for k, n, a, b in cases:
        assert weak_rate.betabinom_sf(k, n, a, b) == float(betabinom.sf(k, n, a, b)), (k, n, a, b)
