"""Texts for the campaign simulator: honest reviews and the scripts paid campaigns work from.

Honest texts come from the shared labelled corpus (``sentiment_reviews.jsonl.gz``) when it is
present. On a fresh clone they come from a small built-in pool, written for this project: clauses
about finance apps combined at random, so honest reviews rarely repeat each other (the point of the
pool is to keep tests runnable, not to be realistic; the reported numbers use the corpus).
Campaign scripts, templates and the synonym table of the paraphrasing "spinner" are hand-written.
"""

from __future__ import annotations

import gzip
import os
import random
from functools import lru_cache
from pathlib import Path

import orjson

from trustscope.settings import REPO_DIR

_POS_CLAUSES = [
    "用了半年了整体还可以", "提现到账速度挺快的", "界面简洁操作方便", "客服回复及时态度也好",
    "收益和宣传的差不多", "新手引导做得比较清楚", "产品信息披露得比较完整", "风险提示写得很明白",
    "APP很少卡顿", "利率不算最高但是稳", "每个月按时回款没出过问题", "注册流程几分钟就搞定",
    "理财经理没有乱推销", "资金流向能查得到", "手续费比别家低一点", "活动奖励真的发了",
    "老用户了一直比较放心", "对账单清清楚楚", "投诉之后第二天就处理了", "比银行方便多了",
    "小额试了几次都正常", "夜里提现早上就到了", "页面设计很舒服", "消息推送不算多不烦人",
    "身份验证很严格感觉安全", "朋友推荐的确实不错", "适合上班族零钱理财", "功能越来越完善了",
    "说明书写得很详细", "赎回规则讲得清楚",
]
_NEG_CLAUSES = [
    "提现拖了一个星期还没到", "客服电话永远打不通", "收益和宣传差太远", "APP经常闪退",
    "隐藏费用太多了", "到期了不给兑付", "一直推销高风险产品", "页面广告弹个不停",
    "实名认证反复失败", "利息算错了还不承认", "投诉了半个月没人理", "借款合同条款很坑",
    "催收电话打到家里人那", "更新以后数据全乱了", "短信验证码老是收不到", "说好的返现一直不发",
    "莫名其妙被扣了服务费", "逾期了平台也不管", "页面卡得要命", "理财经理态度很差",
    "风险说明一句话带过", "资金去向完全查不到", "注销账户特别麻烦", "客服只会复制粘贴",
    "活动规则随时改", "提前赎回要扣一大笔", "到账时间一拖再拖", "账户突然被冻结",
    "个人信息被泄露了", "宣传的保本根本不是真的",
]
_OPENERS = ["", "", "说实话", "总的来说", "个人感觉", "用下来", "讲真", "坦白讲"]
_ENDINGS = ["", "", "。", "！", "，一般般吧。", "，就这样。", "，仅供参考。", "~"]

CAMPAIGN_SCRIPTS = [
    "这个平台真的太良心了，收益稳定每个月按时到账，提现秒到，客服小姐姐特别耐心，强烈推荐给大家",
    "用了三个月了收益一直很稳，比银行理财高多了，提现当天就到账，安全靠谱，已经推荐给家里人了",
    "第一次在这里理财，操作简单，新手福利很多，收益每天都看得到，平台很正规，放心投资",
    "朋友推荐来的，果然没让我失望，年化收益很可观，资金安全有保障，客服专业又热情，五星好评",
    "老用户了必须来夸一下，这么多年从来没有逾期过，提现速度快，收益稳定，值得信赖的好平台",
]
TEMPLATES = [
    "在{p}理财{n}个月了，收益稳定，提现{m}分钟就到账，客服{name}特别耐心，推荐给大家{e}",
    "{p}真的很靠谱！投了{n}万，每个月按时回款，年化{m}%左右，客服{name}服务很好{e}",
    "感谢{name}推荐的{p}，新手福利{n}元已经到账，提现{m}小时到卡，五星好评{e}",
]
NEG_TEMPLATES = [
    "{p}就是个坑，提现{n}天都不到账，客服{name}一直推脱，大家千万别上当{e}",
    "垃圾平台{p}，投了{n}万被套住了，客服{name}电话打了{m}次都没人接，避雷{e}",
    "{p}骗子平台，说好的收益全是假的，{n}天了钱还没退，客服{name}态度恶劣{e}",
]
NEG_SCRIPTS = [
    "这个平台就是骗人的，提现一直不到账，客服态度极差，大家千万不要上当受骗",
    "垃圾平台，钱投进去就拿不出来了，收益都是假的，投诉也没人管，避雷避雷",
]
NAMES = ["小王", "小李", "张经理", "刘姐", "阿强", "小美", "陈老师", "赵总", "小周", "孙小姐",
         "Amy", "Tony", "Kevin", "Lucy"]
EMOJI = ["", "👍", "👍👍", "😊", "🔥", "💯", "❤️", "!!!", "～", "🎉"]
SYNONYMS = {
    "真的": ["确实", "实在", "真心"], "太": ["非常", "特别", "超级"], "良心": ["厚道", "实在", "靠谱"],
    "收益": ["回报", "利息", "收入"], "稳定": ["平稳", "稳健", "稳当"], "按时": ["准时", "如期"],
    "到账": ["到卡", "入账", "到款"], "提现": ["取现", "提款"], "秒到": ["很快到", "马上到", "立刻到"],
    "客服": ["服务人员", "售后", "客服人员"], "耐心": ["细心", "有耐心", "热情"],
    "强烈推荐": ["极力推荐", "真心推荐", "力荐"], "推荐": ["安利", "介绍"], "大家": ["各位", "朋友们"],
    "用了": ["使用了", "玩了"], "比": ["相比", "比起"], "安全": ["稳妥", "放心"], "靠谱": ["可靠", "靠得住"],
    "简单": ["方便", "容易"], "正规": ["规范", "合规"], "放心": ["安心", "省心"], "果然": ["确实", "果真"],
    "可观": ["不错", "挺高"], "专业": ["在行", "内行"], "必须": ["一定要", "得"], "从来": ["一直", "始终"],
    "值得信赖": ["值得信任", "信得过"], "好平台": ["好产品", "好地方"], "骗人": ["忽悠人", "坑人"],
    "极差": ["很差", "恶劣"], "千万": ["一定", "务必"], "垃圾": ["烂", "差劲"], "避雷": ["快跑", "别碰"],
}
FILLERS = ["说实话", "讲真", "个人觉得", "总之", "反正", "而且", "另外", "哈哈", "嗯"]


def _builtin_honest(label: int, rng: random.Random) -> str:
    clauses = _POS_CLAUSES if label == 1 else _NEG_CLAUSES
    k = rng.choice((2, 3, 3, 4))
    parts = rng.sample(clauses, k)
    text = rng.choice(_OPENERS) + "，".join(parts) + rng.choice(_ENDINGS)
    return text.lstrip("，")


def shared_data_dir() -> Path:
    """``TS_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("TS_SHARED_DATA")
    return Path(env) if env else REPO_DIR.parent / "shared" / "data"


@lru_cache(maxsize=2)
def corpus_texts(min_len: int = 6, max_len: int = 200) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(negative texts, positive texts) from the shared corpus, or None when it is absent."""
    path = shared_data_dir() / "sentiment_reviews.jsonl.gz"
    if not path.exists():
        return None
    neg: list[str] = []
    pos: list[str] = []
    seen: set[str] = set()
    with gzip.open(path, "rb") as fh:
        for line in fh:
            d = orjson.loads(line)
            text = str(d.get("text", "")).strip()
            if not min_len <= len(text) <= max_len or text in seen:
                continue
            seen.add(text)
            (pos if d.get("label") == 1 else neg).append(text)
    return tuple(neg), tuple(pos)


class HonestTexts:
    """Draws honest texts by sentiment label, from the corpus if present, else the built-in pool."""

    def __init__(self, rng: random.Random, use_corpus: bool = True) -> None:
        self.rng = rng
        self.pools = corpus_texts() if use_corpus else None
        self.source = "corpus" if self.pools else "builtin"
        self._order: list[list[int]] = []
        if self.pools:
            for pool in self.pools:
                idx = list(range(len(pool)))
                rng.shuffle(idx)
                self._order.append(idx)

    def draw(self, label: int) -> str:
        if not self.pools:
            return _builtin_honest(label, self.rng)
        order = self._order[label]
        if not order:  # exhausted: start over in a new order
            order.extend(range(len(self.pools[label])))
            self.rng.shuffle(order)
        return self.pools[label][order.pop()]


def spin(text: str, rng: random.Random, strength: float = 0.5) -> str:
    """Paraphrase the way review-spinning tools do: synonyms, clause shuffle, fillers, punctuation."""
    for word, alts in SYNONYMS.items():
        if word in text and rng.random() < strength:
            text = text.replace(word, rng.choice(alts))
    clauses = [c for c in text.replace("！", "，").replace("。", "，").split("，") if c]
    if len(clauses) > 2:
        head, rest = clauses[0], clauses[1:]
        rng.shuffle(rest)
        clauses = [head] + rest if rng.random() < 0.5 else rest + [head]
    if rng.random() < strength:
        clauses.insert(rng.randrange(len(clauses) + 1), rng.choice(FILLERS))
    if len(clauses) > 3 and rng.random() < strength / 2:
        clauses.pop(rng.randrange(len(clauses)))
    sep = rng.choice(["，", "，", "。", "！", " "])
    return sep.join(clauses) + rng.choice(["", "！", "。", "👍", "~"])


def fill_template(template: str, platform: str, rng: random.Random) -> str:
    return template.format(p=platform, n=rng.randint(1, 36), m=rng.randint(1, 60), name=rng.choice(NAMES),
                           e=rng.choice(EMOJI))
