"""Each platform's own baseline: a Gamma-Poisson rate of signal posts with discounted history.

For platform p and signal kind (rumour-like posts, negative posts) we keep a discounted count ``n``
and a discounted exposure ``t`` (seconds), both decayed with half-life ``half_life_s`` at each update,
plus the prior Gamma(``prior_posts``, ``prior_exposure_s``). The posterior rate is
Gamma(a = prior_posts + n, b = prior_exposure_s + t); the count in a window of W seconds is then
negative-binomial (r = a, p = b / (b + W)). A window count k is a burst when
P(X >= k) < alpha. The uncertainty is the point: a platform seen for an hour has a wide posterior
and the prior (one signal post a day) keeps its first wave visible; a platform with 2,000 negative
posts a day has a tight, high baseline and needs a real surge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import AlertKind, Post

EARLY = "early"  # the rate kind of new stories the rumour model finds rumour-like (early warnings)

_UPDATE = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or ARGV[1])
local now = tonumber(ARGV[1])
local dt = now - last
if dt < 0 then dt = 0 end
local decay = math.pow(2, -dt / tonumber(ARGV[2]))
n = n * decay + tonumber(ARGV[3])
t = t * decay + dt
if now > last then last = now end
redis.call('HSET', KEYS[1], 'n', tostring(n), 't', tostring(t), 'last', tostring(last))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {tostring(n), tostring(t)}
"""


def signal_kinds(post: Post, cfg: AlertConfig) -> list[AlertKind]:
    """The one definition of a signal post: what each kind's baseline counts, and what a story's burst
    window counts of that kind (``StoryStore``), so the burst test compares like with like."""
    kinds: list[AlertKind] = []
    if post.rumour >= cfg.rumour_threshold:
        kinds.append("rumour")
    if post.negative:
        kinds.append("negative")
    return kinds


@dataclass(frozen=True, slots=True)
class Baseline:
    a: float  # posterior shape: prior posts + discounted posts
    b: float  # posterior rate: prior exposure + discounted exposure (s)

    def expected(self, window_s: float) -> float:
        return self.a / self.b * window_s

    def tail(self, k: int, window_s: float) -> float:
        """P(X >= k) for the negative-binomial predictive count in ``window_s``."""
        return nbinom_sf(k, self.a, self.b / (self.b + window_s))

    def surprise(self, k: int, window_s: float) -> float:
        """-log10 P(X >= k): 4 means one window in 10,000 would look like this by chance."""
        return -math.log10(max(self.tail(k, window_s), 1e-300))


def nbinom_sf(k: int, r: float, p: float) -> float:
    """P(X >= k) for X ~ NegBin(r, p) (failures before the r-th success), summed in log space."""
    if k <= 0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    cdf = 0.0
    log_pmf = r * log_p  # P(X = 0)
    for j in range(k):
        cdf += math.exp(log_pmf)
        log_pmf += math.log((j + r) / (j + 1)) + log_q
    return max(0.0, 1.0 - cdf) if cdf < 0.999999 else _tail_direct(k, r, p)


def _tail_direct(k: int, r: float, p: float) -> float:
    """The tail summed from k on, for tails too small for 1 - cdf (precision)."""
    log_p, log_q = math.log(p), math.log1p(-p)
    log_pmf = (math.lgamma(k + r) - math.lgamma(k + 1) - math.lgamma(r) + r * log_p + k * log_q)
    total, j = 0.0, k
    while True:
        term = math.exp(log_pmf)
        total += term
        if term < total * 1e-12 or j > k + 100_000:
            return total
        log_pmf += math.log((j + r) / (j + 1)) + log_q
        j += 1


class RateModel:
    def __init__(self, client: redis.Redis, config: AlertConfig) -> None:
        self.client = client
        self.cfg = config
        self._update = client.register_script(_UPDATE)

    def key(self, platform: str, kind: str) -> str:
        return f"{self.cfg.key}:rate:{platform}:{kind}"

    def baseline(self, platform: str, kind: str, at: float | None = None, exclude: float = 0.0) -> Baseline:
        """The posterior at time ``at`` (event time): the quiet time since the last signal post
        counts as exposure, so a platform silent for a week is judged by a week's silence."""
        raw = self.client.hmget(self.key(platform, kind), ["n", "t", "last"])
        n, t = float(raw[0] or 0), float(raw[1] or 0)
        if raw[2] is not None and at is not None and at > float(raw[2]):
            dt = at - float(raw[2])
            decay = 2.0 ** (-dt / self.cfg.half_life_s)
            n, t = n * decay, t * decay + dt
        prior_n, prior_t = self.prior(kind)
        return Baseline(prior_n + max(0.0, n - exclude), prior_t + t)

    def prior(self, kind: str) -> tuple[float, float]:
        """(posts, exposure s) of the Gamma prior: early warnings count new rumour-like stories,
        rarer than signal posts, so they have their own (0.5 stories in two weeks by default)."""
        if kind == EARLY:
            return self.cfg.early_prior_stories, self.cfg.early_prior_exposure_s
        return self.cfg.prior_posts, self.cfg.prior_exposure_s

    def observe(self, platform: str, kind: str, at: float, posts: int = 1) -> None:
        self._update(keys=[self.key(platform, kind)],
                     args=[f"{at:.3f}", self.cfg.half_life_s, posts, int(self.cfg.half_life_s * 8)])
