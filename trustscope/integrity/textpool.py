"""Texts for the campaign simulator: honest reviews and the scripts paid campaigns work from.

Honest texts come from the shared labelled corpus (``sentiment_reviews.jsonl.gz``) when it is
present. On a fresh clone they come from a small built-in grammar, written for this project: who,
when and a few judgements of aspects of a finance app, combined at random, so honest reviews rarely
repeat each other (the point of the
pool is to keep tests runnable, not to be realistic; the reported numbers use the corpus).
Campaign texts are written *from the same pool* as honest texts: a campaign takes real reviews of
the same corpus (or the built-in grammar) as its base and adds the marks of paid reviews - openers,
promotional superlatives, calls to action ("强烈推荐", "五星好评", "大家放心用"), referral codes and
contact handles, template slots for names, numbers and emoji - then pastes, fills or spins it
(``paid_script``). So a text classifier trained on simulated campaigns has to learn paid/templated
style, not the domain. The mark inventory and the synonym table of the paraphrasing "spinner" are
hand-written; the old finance scripts (``CAMPAIGN_SCRIPTS``...) are kept for the tests and bench.
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
# general review vocabulary for the spinner (campaign bases are real shopping / food reviews)
SYNONYMS.update({
    "非常": ["特别", "超级", "相当"], "很好": ["挺好", "特别好", "超好"], "不错": ["挺好", "很棒", "可以"],
    "满意": ["称心", "舒心", "满足"], "喜欢": ["中意", "爱了", "喜爱"], "质量": ["品质", "做工"],
    "物流": ["快递", "配送"], "东西": ["宝贝", "商品"], "价格": ["价钱", "售价"], "便宜": ["实惠", "划算"],
    "好吃": ["美味", "可口"], "味道": ["口味", "口感"], "速度": ["效率"], "服务": ["售后", "态度"],
    "包装": ["外包装", "包装盒"], "值得": ["值", "配得上"], "购买": ["入手", "下单"], "好评": ["赞", "点赞"],
})

# Marks of paid reviews. Slots: {n} number, {code} referral code, {wx} contact handle, {qq} group
# number, {name} a person, {e} emoji; filled per review by ``fill_slots``.
PAID_OPENERS = ["亲测好用！", "良心推荐，", "必须来夸一下，", "朋友推荐来的，", "第{n}次回购了，", "老顾客了，",
                "闭眼入系列，", "姐妹们看过来！", "真心分享，", "用了{n}天来反馈，", "终于找到宝藏了！",
                "客服{name}推荐的，"]
PAID_SUPERLATIVES = ["全网最好", "性价比超高", "真的是我用过最好的", "绝对物超所值", "品质一流", "服务一流",
                     "yyds", "无敌了", "好到爆", "完美", "超出预期", "一百分满意", "买到就是赚到",
                     "找不到任何缺点", "同价位无敌", "比实体店强太多"]
PAID_CTAS = ["强烈推荐", "五星好评", "大家放心用", "放心买", "闭眼入", "冲就完事了", "赶紧入手", "推荐给大家",
             "不买后悔", "必须好评", "值得拥有", "大家放心购买", "已推荐给身边朋友", "五星五星五星",
             "好评好评", "赶紧冲"]
PAID_CONTACTS = ["邀请码{code}", "加V：{wx}领优惠", "vx {wx} 有福利", "私信我领{n}元券", "好评返现{n}元",
                 "评论区找我要链接", "QQ群{qq}", "下单备注{code}立减{n}元", "找客服{name}报我名字有优惠",
                 "扫码关注送{n}元红包"]
NEG_OPENERS = ["避雷！", "千万别买！", "血的教训，", "踩坑了，", "大家注意了，", "曝光一下，", "真是服了，"]
NEG_SUPERLATIVES = ["史上最差", "垃圾中的垃圾", "全网最坑", "简直是骗子", "质量差到极点", "毫无诚信"]
NEG_CTAS = ["大家千万别买", "避雷避雷", "差评差评差评", "已投诉", "退款无门", "不要上当", "谁买谁后悔",
            "一星都不想给", "劝大家绕道", "建议去别家买", "都散了吧", "珍爱生命远离这家"]
NEG_CONTACTS = ["同款去{name}家买才靠谱，vx {wx}", "被坑的加群{qq}一起维权", "退款攻略私信我",
                "想要靠谱的找我{wx}", "已经有{n}个人被坑了"]


def paid_script(base: str, rng: random.Random, positive: bool = True, strength: float = 1.0) -> str:
    """A campaign script written from a real review: the base text plus marks of paid reviews.

    Keeps slots (``{n}``, ``{code}``, ``{wx}``, ``{qq}``, ``{name}``, ``{e}``) so the campaign can
    fill them per review (a template) or once (a script to paste or spin). ``strength`` scales how
    many marks are added (at least one call to action or superlative is always there).
    """
    opn, sup, cta, con = ((PAID_OPENERS, PAID_SUPERLATIVES, PAID_CTAS, PAID_CONTACTS) if positive
                          else (NEG_OPENERS, NEG_SUPERLATIVES, NEG_CTAS, NEG_CONTACTS))
    body = base.replace("{", "(").replace("}", ")").rstrip("。！!~～. ")
    head = rng.choice(opn) if rng.random() < 0.6 * strength else ""
    tail = []
    if rng.random() < 0.7 * strength:
        tail.append(rng.choice(sup))
    tail.append(rng.choice(cta))
    if rng.random() < 0.35 * strength:
        tail.append(rng.choice(cta))
    if rng.random() < 0.4 * strength:
        tail.append(rng.choice(con))
    tail = list(dict.fromkeys(tail))
    return head + body + "，" + "，".join(tail) + rng.choice(["！", "！！", "{e}", "。{e}", "{e}{e}"])


def fill_slots(template: str, rng: random.Random) -> str:
    """Fill a ``paid_script`` template: names, numbers, codes, handles and emoji swapped per review."""
    code = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(rng.randint(4, 6)))
    wx = rng.choice(["vip", "hao", "tj", "mm", "go", "fl", "xx"]) + str(rng.randint(100, 99999))
    out = template
    for slot, value in (("{n}", lambda: str(rng.randint(2, 50))), ("{code}", lambda: code),
                        ("{wx}", lambda: wx), ("{qq}", lambda: str(rng.randint(10**7, 10**9))),
                        ("{name}", lambda: rng.choice(NAMES)), ("{e}", lambda: rng.choice(EMOJI))):
        while slot in out:
            out = out.replace(slot, value(), 1)
    return out


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


def _domain_ok(domain: str, domains: tuple[str, ...] | None, exclude: tuple[str, ...]) -> bool:
    if domains is not None and not any(domain.startswith(d) for d in domains):
        return False
    return not any(domain.startswith(d) for d in exclude)


@lru_cache(maxsize=4)
def corpus_texts(min_len: int = 6, max_len: int = 200, domains: tuple[str, ...] | None = None,
                 exclude_domains: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(negative texts, positive texts) from the shared corpus, or None when it is absent.

    ``domains`` keeps only corpus domains starting with one of these prefixes (e.g.
    ``("food_delivery",)``), ``exclude_domains`` drops them: the paid-review head is trained on
    some domains and measured on a held-out one.
    """
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
            if not _domain_ok(str(d.get("domain", "")), domains, exclude_domains):
                continue
            seen.add(text)
            (pos if d.get("label") == 1 else neg).append(text)
    return tuple(neg), tuple(pos)


class HonestTexts:
    """Draws honest texts by sentiment label, from the corpus if present, else the built-in pool."""

    def __init__(self, rng: random.Random, use_corpus: bool = True, domains: tuple[str, ...] | None = None,
                 exclude_domains: tuple[str, ...] = ()) -> None:
        self.rng = rng
        self.pools = corpus_texts(domains=domains, exclude_domains=tuple(exclude_domains)) if use_corpus else None
        if self.pools is not None and not all(self.pools):
            raise ValueError(f"no corpus texts of both labels for domains={domains} exclude={exclude_domains}")
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

    def draw_base(self, label: int, min_len: int = 12, max_len: int = 80) -> str:
        """A real review to write a campaign script from: substantial but not an essay (texts too
        short or too long are skipped; they leave the honest pool's current round either way)."""
        for _ in range(200):
            text = self.draw(label)
            if min_len <= len(text) <= max_len:
                return text
        return text


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


_CLAUSE_SEPS = "，,。！!？?；;~～ "


def _clauses(text: str) -> list[str]:
    out, cur = [], ""
    for ch in text:
        if ch in _CLAUSE_SEPS:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def reorder(text: str, rng: random.Random) -> str:
    """A real review with its clauses reordered and its punctuation changed - no synonyms, fillers
    or marks: what a campaign that rewords real reviews to dodge copy detection does."""
    clauses = _clauses(text) or [text]
    if len(clauses) > 1:
        rng.shuffle(clauses)
    seps = rng.choice([["，"], ["，", "。"], ["！", "，"], [" "], ["；", "，"]])
    out = clauses[0]
    for c in clauses[1:]:
        out += rng.choice(seps) + c
    return out + rng.choice(["", "。", "！", "~", "!!"])


def light_edit(text: str, rng: random.Random) -> str:
    """A near-verbatim copy: punctuation changed, maybe one clause moved or one character dropped."""
    clauses = _clauses(text) or [text]
    if len(clauses) > 2 and rng.random() < 0.5:
        c = clauses.pop(rng.randrange(len(clauses)))
        clauses.insert(rng.randrange(len(clauses) + 1), c)
    if rng.random() < 0.3:
        k = rng.randrange(len(clauses))
        if len(clauses[k]) > 4:
            i = rng.randrange(len(clauses[k]))
            clauses[k] = clauses[k][:i] + clauses[k][i + 1:]
    sep = rng.choice(["，", "，", "。", " ", "！"])
    return sep.join(clauses) + rng.choice(["", "。", "！", "~"])
