"""Campaign simulator: seeded, labelled review streams - honest traffic plus one or more attacks.

Honest traffic: ``platforms`` platforms, each with its own daily rate (log-uniform 3-25 reviews a
day, more in the evening) and quality (share of positive experiences). Each honest review takes a
real text from the shared corpus (or the built-in pool) with the label that quality draws, and a
rating consistent with it (1% of honest reviewers click the wrong stars). Authors: a quarter of
reviews come from newcomers whose account is days old (honest newcomers exist, so "new account"
cannot convict alone); the rest from a pool of aged accounts with a heavy-tailed activity.
``prob_positive`` is a simulated sentiment-model output (about 94% accurate; the real model is
too slow to run over every evaluation stream on CPU) - it only feeds the rating-text signal.
Honest traffic also has ``honest_waves`` genuine surges: a platform that stops paying out gets
five times its usual volume for three days, nearly all 1-2 stars, from its usual mix of aged users
and newcomers who sign up to complain - the hard case for a burst detector, labelled honest.

Attacks (``ATTACKS``), each injecting ``inject_share`` of the target platform's reviews. Campaign
texts are written from real reviews drawn from the same pool as honest texts (corpus or built-in),
with the marks of paid reviews added (``textpool.paid_script``: openers, superlatives, calls to
action, referral codes / contact handles), so text style, not domain, tells them apart:

* ``copy_paste``   - two scripts pasted verbatim (a trailing emoji changes) by new accounts, 2 days.
* ``templated``    - templates with swapped names, numbers, codes and emoji, new accounts, 4 days.
* ``paraphrased``  - spun scripts (synonyms, reordered clauses, fillers), young accounts, a week.
* ``slow``         - templated and spun reviews trickling in over six weeks, one per new account.
* ``camouflaged``  - a farm of aged accounts (30, more for big targets) that write ordinary reviews elsewhere (label ``cover``) and
  hit three client platforms in lockstep rounds with distinct, real positive texts (half of them
  with a call to action appended).
* ``sleeper``      - accounts registered in bulk a year earlier, with a review history, woken up
  together for three days with spun scripts.
* ``competitor``   - a 1-star attack on a competitor with negative templates and spins, new accounts.

Unmarked families (``UNMARKED_ATTACKS``: no opener, superlative, call to action or code anywhere):

* ``unmarked``         - distinct real positive reviews, clauses reordered and punctuation changed
  (``textpool.reorder``), by one-review accounts days to weeks old, over about two weeks.
* ``copy_cross``       - verbatim and near-verbatim copies of *older honest reviews of other
  platforms*, five stars, by aged accounts (a year or more old) writing a few each over ~two months.
* ``aged_drip``        - a slow drip by aged accounts, a few reviews each over ~two months, of
  light edits of two real reviews.
* ``mixed_stars``      - a 4- and 5-star campaign (about half each) of spun real reviews without
  marks, young accounts, a week.
* ``cross_camouflage`` - accounts a few weeks old that each first write one honest-looking review of
  another platform (label ``cover``), then reordered real positive reviews of the target.

``SimConfig.variant`` picks the generator's parameters: ``"tune"`` (what weights are fitted on) or
``"eval"`` (held-out: other account ages, spans, farm sizes, honest-wave shape, copy mix), so an
evaluation never sees the parameter values its weights were tuned on (``GenParams``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from trustscope.integrity import textpool
from trustscope.integrity.models import ReviewEvent

ATTACKS = ("copy_paste", "templated", "paraphrased", "slow", "camouflaged", "sleeper", "competitor")
# Families added for the leave-one-family-out evaluation (issue 13): no paid-script marks at all.
# Kept apart from ATTACKS so the paid-review head's training data (train_head) stays as it was.
UNMARKED_ATTACKS = ("unmarked", "copy_cross", "aged_drip", "mixed_stars", "cross_camouflage")
ALL_ATTACKS = ATTACKS + UNMARKED_ATTACKS
DAY = 86_400.0
START = 1_735_689_600.0  # 2025-01-01T00:00:00Z: streams are reproducible, not tied to "now"
PLATFORM_NAMES = ["稳盈宝", "金信贷", "汇理财", "安心投", "易融通", "惠享金", "聚财盒子", "银谷在线",
                  "鑫利来", "融e通", "财富象", "安易贷", "恒信宝", "普惠通", "钱多多", "优选金服"]


@dataclass
class SimConfig:
    seed: int = 0
    attacks: tuple[str, ...] = ()
    days: int = 60
    platforms: int = 10
    inject_share: float = 0.3
    use_corpus: bool = True
    rate_range: tuple[float, float] = (3.0, 25.0)
    honest_waves: int = 1  # genuine surges (a platform defaults: a wave of real 1-star reviews)
    domains: tuple[str, ...] | None = None  # corpus domains to draw texts from (prefixes; None = all)
    exclude_domains: tuple[str, ...] = ()  # corpus domains left out (the head's held-out domain)
    variant: str = "tune"  # generator parameters for the unmarked families and waves: "tune" | "eval"


@dataclass(frozen=True)
class GenParams:
    """Parameters of the unmarked families and of honest waves; tuning and evaluation differ."""

    unmarked_age: tuple[float, float]  # account age (days) of one-review campaign accounts
    unmarked_span: float  # days a campaign runs
    copy_accounts: int  # aged accounts of copy_cross / aged_drip
    copy_age: tuple[float, float]  # their age (days) at the stream start
    copy_span: float  # days the drip runs
    copy_edit: float  # share of copies lightly edited (the rest verbatim)
    mixed_four: float  # share of 4-star reviews in mixed_stars
    camo_age: tuple[float, float]  # account age of cross_camouflage accounts
    wave_newcomers: float  # share of newcomer accounts among an honest wave's reviews
    wave_days: float  # length of an honest wave
    wave_factor: float  # extra volume of an honest wave (times the usual daily rate)


GEN_PARAMS = {
    "tune": GenParams((1, 30), 10, 15, (380, 700), 45, 0.4, 0.4, (10, 45), 0.35, 3, 4),
    "eval": GenParams((1, 40), 12, 20, (365, 900), 60, 0.6, 0.5, (15, 60), 0.40, 4, 3),
}


@dataclass
class Simulation:
    events: list[ReviewEvent]
    labels: dict[str, str]  # review id -> "honest" | attack name | "cover"
    targets: dict[str, str]  # attack -> main target platform
    text_source: str
    config: SimConfig
    end: float = 0.0
    platforms: list[str] = field(default_factory=list)


class _Sim:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.texts = textpool.HonestTexts(random.Random(cfg.seed * 7919 + 1), cfg.use_corpus, cfg.domains,
                                          tuple(cfg.exclude_domains))
        self.events: list[ReviewEvent] = []
        self.labels: dict[str, str] = {}
        self.n = 0
        self.author_n = 0
        self.counts: dict[str, int] = {}
        self.plat = [f"plat-{i:02d}" for i in range(cfg.platforms)]
        self.display = {p: PLATFORM_NAMES[i % len(PLATFORM_NAMES)] for i, p in enumerate(self.plat)}
        r = self.rng
        lo, hi = cfg.rate_range
        self.rate = {p: math.exp(r.uniform(math.log(lo), math.log(hi))) for p in self.plat}
        self.quality = {p: r.uniform(0.35, 0.85) for p in self.plat}
        # aged honest authors: (created_at, prior external reviews, activity weight)
        self.aged = [self._new_aged_author() for _ in range(int(sum(self.rate.values()) * cfg.days / 4) + 50)]
        self.aged_w = [a[3] for a in self.aged]

    # ---------------------------------------------------------------- helpers
    def _rid(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.cfg.seed}-{self.n:07d}"

    def _aid(self, prefix: str) -> str:
        self.author_n += 1
        return f"{prefix}{self.cfg.seed}-{self.author_n:06d}"

    def _new_aged_author(self) -> tuple[str, float, int, float]:
        r = self.rng
        created = START - r.uniform(45, 3 * 365) * DAY
        return (self._aid("u"), created, int(r.expovariate(1 / 6)), r.paretovariate(1.5))

    def _prob_positive(self, label: int) -> float:
        """A simulated sentiment model: right and confident most of the time."""
        r = self.rng
        p = r.betavariate(12, 1.2) if r.random() < 0.94 else r.betavariate(2, 3)
        return p if label == 1 else 1.0 - p

    def _emit(self, rid: str, label: str, platform: str, author: str, rating: int, text: str, t: float,
              created: float, prior: int, text_label: int) -> None:
        self.counts[author] = self.counts.get(author, 0) + 1
        self.events.append(ReviewEvent(
            id=rid, platform=platform, author_id=author, rating=rating, text=text, created_at=t,
            author_created_at=created, author_review_count=prior + self.counts[author],
            prob_positive=round(self._prob_positive(text_label), 4)))
        self.labels[rid] = label

    def _time_in_day(self, day: float) -> float:
        """Seconds into a day, more reviews in the evening (a simple daily cycle)."""
        r = self.rng
        hour = r.choice([8, 10, 12, 12, 13, 15, 18, 19, 20, 20, 21, 21, 22, 22, 23])
        return day * DAY + (hour + r.random()) * 3600

    # ---------------------------------------------------------------- honest traffic
    def honest(self) -> None:
        r = self.rng
        for p in self.plat:
            for d in range(self.cfg.days):
                k = self._poisson(self.rate[p])
                for _ in range(k):
                    t = START + self._time_in_day(d)
                    label = 1 if r.random() < self.quality[p] else 0
                    rating = self._rating(label)
                    if r.random() < 0.01:
                        rating = 6 - rating  # wrong stars clicked
                    if r.random() < 0.25:
                        author, created, prior = self._aid("n"), t - r.uniform(0, 5) * DAY, 0
                    else:
                        a = r.choices(self.aged, weights=self.aged_w)[0]
                        author, created, prior = a[0], a[1], a[2]
                    self._emit(self._rid("h"), "honest", p, author, rating, self.texts.draw(label), t,
                               created, prior, label)

    def wave(self, platform: str) -> None:
        """A genuine surge of complaints (labelled honest)."""
        r = self.rng
        gp = GEN_PARAMS[self.cfg.variant]
        day0 = r.uniform(15, self.cfg.days - 5)
        for _ in range(self._poisson(self.rate[platform] * gp.wave_factor * gp.wave_days)):
            t = START + day0 * DAY + r.uniform(0, gp.wave_days) * DAY
            label = 0 if r.random() < 0.9 else 1
            rating = self._rating(label)
            if r.random() < gp.wave_newcomers:
                author, created, prior = self._aid("n"), t - r.uniform(0, 2) * DAY, 0
            else:
                a = r.choices(self.aged, weights=self.aged_w)[0]
                author, created, prior = a[0], a[1], a[2]
            self._emit(self._rid("h"), "honest", platform, author, rating, self.texts.draw(label), t,
                       created, prior, label)

    def _poisson(self, lam: float) -> int:
        r = self.rng
        k, prod, limit = 0, r.random(), math.exp(-lam)
        while prod > limit:
            k += 1
            prod *= r.random()
        return k

    def _rating(self, label: int) -> int:
        r = self.rng.random()
        if label == 1:
            return 5 if r < 0.65 else 4 if r < 0.95 else 3
        return 1 if r < 0.55 else 2 if r < 0.9 else 3

    def honest_count(self, platform: str) -> int:
        return sum(1 for e in self.events if e.platform == platform and self.labels[e.id] == "honest")

    def n_inject(self, platform: str) -> int:
        share = self.cfg.inject_share
        return max(10, round(self.honest_count(platform) * share / (1 - share)))

    # ---------------------------------------------------------------- attacks
    def _new_accounts_campaign(self, name: str, target: str, n: int, day0: float, span_days: float,
                               text_fn, rating_fn, text_label: int, age_days: tuple[float, float] = (0, 3),
                               prior: tuple[int, int] = (0, 1)) -> None:
        r = self.rng
        for _ in range(n):
            t = START + day0 * DAY + r.uniform(0, span_days) * DAY
            created = t - r.uniform(*age_days) * DAY
            self._emit(self._rid("f"), name, target, self._aid("c"), rating_fn(), text_fn(), t, created,
                       r.randint(*prior), text_label)

    def _script(self, label: int = 1, slots: bool = False) -> str:
        """A campaign script written from a real review of the same pool (``textpool.paid_script``);
        with ``slots`` it is a template that names, numbers or codes are swapped into per review."""
        r = self.rng
        tpl = textpool.paid_script(self.texts.draw_base(label), r, positive=label == 1)
        if slots and not any(k in tpl for k in ("{n}", "{code}", "{wx}", "{qq}", "{name}")):
            extra = textpool.PAID_CONTACTS if label == 1 else textpool.NEG_CONTACTS
            cut = tpl.rfind("，")
            tpl = tpl[:cut] + "，" + r.choice(extra) + tpl[cut:]
        return tpl if slots else textpool.fill_slots(tpl, r)

    def attack(self, name: str, target: str) -> None:
        r = self.rng
        n = self.n_inject(target)
        day0 = r.uniform(15, self.cfg.days - 10)
        five = lambda: 5 if r.random() < 0.9 else 4
        fill, spin = textpool.fill_slots, textpool.spin
        if name == "copy_paste":
            srcs = [self._script(), self._script()]
            self._new_accounts_campaign(name, target, n, day0, 2,
                                        lambda: r.choice(srcs) + r.choice(textpool.EMOJI), five, 1)
        elif name == "templated":
            tpls = [self._script(slots=True), self._script(slots=True)]
            self._new_accounts_campaign(name, target, n, day0, 4, lambda: fill(r.choice(tpls), r), five, 1,
                                        age_days=(0, 10))
        elif name == "paraphrased":
            scripts = [self._script(), self._script()]
            self._new_accounts_campaign(name, target, n, day0, 7, lambda: spin(r.choice(scripts), r, 0.5),
                                        five, 1, age_days=(0, 20), prior=(0, 2))
        elif name == "slow":
            tpl, script = self._script(slots=True), self._script()

            def text() -> str:
                return fill(tpl, r) if r.random() < 0.5 else spin(script, r, 0.4)
            self._new_accounts_campaign(name, target, n, 8, 42, text, five, 1, age_days=(0, 5))
        elif name == "competitor":
            tpl, script = self._script(0, slots=True), self._script(0)

            def neg() -> str:
                return fill(tpl, r) if r.random() < 0.5 else spin(script, r, 0.5)
            one = lambda: 1 if r.random() < 0.9 else 2
            self._new_accounts_campaign(name, target, n, day0, 3, neg, one, 0, age_days=(0, 8))
        elif name == "sleeper":
            scripts = [self._script(), self._script()]
            batch_start = START - r.uniform(300, 420) * DAY
            for _ in range(n):
                t = START + day0 * DAY + r.uniform(0, 3) * DAY
                created = batch_start + r.uniform(0, 21) * DAY
                self._emit(self._rid("f"), name, target, self._aid("s"), five(),
                           spin(r.choice(scripts), r, 0.6), t, created, r.randint(2, 10), 1)
        elif name == "camouflaged":
            self._camouflaged(target, n)
        elif name in UNMARKED_ATTACKS:
            self._unmarked(name, target, n, day0)
        else:
            raise ValueError(f"unknown attack {name!r}; choose from {', '.join(ALL_ATTACKS)}")

    def _camouflaged(self, target: str, n: int) -> None:
        r = self.rng
        others = [p for p in self.plat if p != target]
        clients = [target] + r.sample(others, 2)
        size = max(30, math.ceil(n / 6))  # a bigger target gets a bigger account farm (~6 rounds)
        group = [(self._aid("k"), START - r.uniform(60, 400) * DAY, r.randint(5, 30)) for _ in range(size)]
        rounds_main = math.ceil(n / len(group))
        n_rounds = 3 * rounds_main
        span = self.cfg.days - 12
        pos_texts = self.texts
        for k in range(n_rounds):
            platform = clients[k % 3]
            day0 = 8 + span * k / n_rounds
            left = n - (k // 3) * len(group) if platform == target else len(group)
            for a, created, prior in group[: max(0, min(len(group), left))]:
                t = START + (day0 + r.uniform(0, 1.5)) * DAY
                text = pos_texts.draw(1)
                if r.random() < 0.5:  # half of the farm's texts carry the brief's call to action
                    text = text.rstrip("。！!~～. ") + "，" + r.choice(textpool.PAID_CTAS) + r.choice(["！", "", "👍"])
                self._emit(self._rid("f"), "camouflaged", platform, a, 5, text, t, created, prior, 1)
        for a, created, prior in group:  # cover: ordinary reviews elsewhere, about one every 5 days
            for _ in range(self._poisson(self.cfg.days / 5)):
                p = r.choice(others)
                label = 1 if r.random() < self.quality[p] else 0
                t = START + self._time_in_day(r.randrange(self.cfg.days))
                self._emit(self._rid("v"), "cover", p, a, self._rating(label), self.texts.draw(label), t,
                           created, prior, label)


    def _unmarked(self, name: str, target: str, n: int, day0: float) -> None:
        """The families without paid-script marks (module docstring)."""
        r = self.rng
        gp = GEN_PARAMS[self.cfg.variant]
        reorder = textpool.reorder
        if name == "unmarked":
            self._new_accounts_campaign(name, target, n, day0, gp.unmarked_span,
                                        lambda: reorder(self.texts.draw_base(1), r), lambda: 5 if r.random() < 0.8 else 4,
                                        1, age_days=gp.unmarked_age, prior=(0, 0))
        elif name == "mixed_stars":
            bases = [self.texts.draw_base(1, 20) for _ in range(3)]
            self._new_accounts_campaign(name, target, n, day0, 7,
                                        lambda: textpool.spin(r.choice(bases), r, 0.4),
                                        lambda: 4 if r.random() < gp.mixed_four else 5, 1, age_days=(0, 15),
                                        prior=(0, 2))
        elif name in ("copy_cross", "aged_drip"):
            accounts = [(self._aid("g"), START - r.uniform(*gp.copy_age) * DAY, r.randint(3, 25))
                        for _ in range(gp.copy_accounts)]
            start = max(5.0, self.cfg.days - gp.copy_span - 1)
            if name == "copy_cross":  # originals: substantial honest positive reviews of other platforms
                originals = [e for e in self.events if e.platform != target and self.labels[e.id] == "honest"
                             and e.rating is not None and e.rating >= 4 and len(e.text) >= 15]
            else:
                bases = [self.texts.draw_base(1, 20) for _ in range(2)]
            for _ in range(n):
                a, created, prior = r.choice(accounts)
                t = START + (start + r.uniform(0, gp.copy_span)) * DAY
                if name == "copy_cross":
                    older = [e for e in r.sample(originals, min(40, len(originals))) if e.created_at < t - DAY]
                    text = older[0].text if older else self.texts.draw_base(1)
                    if r.random() < gp.copy_edit:
                        text = textpool.light_edit(text, r)
                else:
                    text = textpool.light_edit(r.choice(bases), r)
                self._emit(self._rid("f"), name, target, a, 5, text, t, created, prior, 1)
        elif name == "cross_camouflage":
            others = [p for p in self.plat if p != target]
            for _ in range(n):
                t = START + (day0 + r.uniform(0, gp.unmarked_span)) * DAY
                a, created = self._aid("x"), t - r.uniform(*gp.camo_age) * DAY
                tc = created + r.uniform(0.2, 0.9) * (t - created)
                p = r.choice(others)
                label = 1 if r.random() < self.quality[p] else 0
                self._emit(self._rid("v"), "cover", p, a, self._rating(label), self.texts.draw(label), tc,
                           created, 0, label)
                self._emit(self._rid("f"), name, target, a, 5 if r.random() < 0.85 else 4,
                           reorder(self.texts.draw_base(1), r), t, created, 0, 1)


def simulate(cfg: SimConfig) -> Simulation:
    """A labelled stream in time order. Same config (seed included) -> the same stream."""
    sim = _Sim(cfg)
    sim.honest()
    targets: dict[str, str] = {}
    free = list(sim.plat)
    sim.rng.shuffle(free)
    for _ in range(cfg.honest_waves):
        sim.wave(free.pop())
    if cfg.variant not in GEN_PARAMS:
        raise ValueError(f"unknown variant {cfg.variant!r}; choose from {', '.join(GEN_PARAMS)}")
    for name in cfg.attacks:
        if name not in ALL_ATTACKS:
            raise ValueError(f"unknown attack {name!r}; choose from {', '.join(ALL_ATTACKS)}")
        target = free.pop() if free else sim.rng.choice(sim.plat)
        targets[name] = target
        sim.attack(name, target)
    events = sorted(sim.events, key=lambda e: (e.created_at, e.id))
    return Simulation(events, sim.labels, targets, sim.texts.source, cfg,
                      START + cfg.days * DAY, sim.plat)
