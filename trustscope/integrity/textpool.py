"""Texts for the campaign simulator: honest reviews and the scripts paid campaigns work from.

Honest texts come from the shared labelled corpus (``sentiment_reviews.jsonl.gz``) when it is
present. On a fresh clone they come from a small built-in grammar, written for this project: who,
when and a few judgements of aspects of a finance app, combined at random, so honest reviews rarely
repeat each other (the point of the
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

# A small grammar (time + who + 2-3 "aspect + judgement" clauses + closer) rather than a list of
# whole reviews: a fixed list would repeat itself and honest reviews would look copy-pasted.
_TIMES = ["上个月", "去年底", "三周前", "春节前", "刚毕业那会儿", "换工作以后", "前年", "上周", "前几天",
          "年初", "国庆期间", "双十一前后", "暑假里", "半年前", "两个月前", "最近"]
_WHO = ["", "", "", "作为一个老师", "我是程序员", "宝妈一枚", "退休以后", "学生党", "做销售的",
        "护士上班忙", "跑滴滴的", "做会计的", "开小店的", "刚工作的新人"]
_ASPECTS = ["提现", "客服", "收益", "界面", "注册流程", "风控审核", "到账速度", "新人活动", "利率",
            "借款合同", "消息推送", "赎回", "对账单", "手机APP", "理财经理", "信息披露", "手续费",
            "实名认证", "还款提醒", "积分兑换"]
_POS_JUDGE = ["挺顺利的", "比想象中好", "写得很清楚", "没出过问题", "让人放心", "速度还可以", "比较透明",
              "态度不错", "算是良心", "值得表扬", "还算靠谱", "处理得很快", "简单明了", "比别家强",
              "一直很稳", "没有套路"]
_NEG_JUDGE = ["一拖再拖", "完全不透明", "让人火大", "问题一大堆", "根本没人管", "坑得很", "慢得离谱",
              "说变就变", "乱扣钱", "态度恶劣", "出错好几次", "很不靠谱", "全是套路", "比别家差远了",
              "越来越差", "经常失灵"]
_JOIN = ["，", "，而且", "，不过", "，另外", "。", "，还有", "；"]
_POS_END = ["", "。", "！", "，会继续用。", "，推荐。", "，给个好评。", "，满意。", "~"]
_NEG_END = ["", "。", "！", "，不会再用了。", "，差评。", "，大家慎重。", "，失望。", "..."]
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
    judge = _POS_JUDGE if label == 1 else _NEG_JUDGE
    aspects = rng.sample(_ASPECTS, rng.choice((2, 2, 3)))
    parts = [a + rng.choice(judge) for a in aspects]
    if rng.random() < 0.3:  # real reviews are mixed: one clause of the other polarity
        parts[-1] = aspects[-1] + rng.choice(_NEG_JUDGE if label == 1 else _POS_JUDGE)
    body = parts[0] + "".join(rng.choice(_JOIN) + p for p in parts[1:])
    who = rng.choice(_WHO)
    head = (who + "，" if who else "") + rng.choice(_TIMES) + "开始用，"
    return head + body + rng.choice(_POS_END if label == 1 else _NEG_END)


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
