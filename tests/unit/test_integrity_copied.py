"""Copy attribution by time: later copies of an earlier review are flagged, the original is not."""

from trustscope.integrity import IntegrityEngine, ReviewEvent
from trustscope.integrity.detectors import copied

T0 = 1_735_689_600.0
DAY = 86_400.0
ORIGINAL = "这家店的牛肉面汤头很浓，面条劲道，分量也足，配送小哥态度很好，下次还会再点"
OTHERS = ["手机用了一个月电池还行，屏幕显示清楚，就是拍照一般般，总体满意",
          "衣服面料摸着舒服，尺码偏大一号，洗了一次没有掉色，价格实惠",
          "书的印刷质量不错，纸张厚实，快递包装很严实，孩子很喜欢看"]


def _ev(rid, platform, author, text, day, rating=5, aged=True):
    t = T0 + day * DAY
    return ReviewEvent(id=rid, platform=platform, author_id=author, rating=rating, text=text, created_at=t,
                       author_created_at=t - (400 if aged else 1) * DAY, author_review_count=5 if aged else 1)


def _run(events):
    engine = IntegrityEngine.in_memory()
    for ev in events:
        engine.process([ev])
    return {u.id: u for u in engine.current([e.id for e in events])}


def test_clause_shingles_ignore_order_and_punctuation():
    a = copied.clause_shingles("汤头很浓，面条劲道。分量也足！")
    b = copied.clause_shingles("分量也足 面条劲道~汤头很浓")
    assert set(a) == set(b)
    assert copied.signature("很好用") is None  # below the information threshold: never attributed


def test_a_cross_platform_copy_months_later_is_flagged_and_the_original_keeps_its_verdict():
    events = [_ev("orig", "pA", "alice", ORIGINAL, 0)] + \
        [_ev(f"o{i}", "pB", f"u{i}", t, 1 + i) for i, t in enumerate(OTHERS)] + \
        [_ev("copy", "pB", "mallory", ORIGINAL, 150)]
    v = _run(events)
    assert v["orig"].verdict == "verified" and v["orig"].signals.get("copied_text", 0) == 0
    assert v["copy"].signals["copied_text"] == 1.0 and v["copy"].verdict != "verified"
    assert any(r.startswith("copied_text:") and "150 days" in r for r in v["copy"].reasons)
    assert all(v[f"o{i}"].verdict == "verified" for i in range(len(OTHERS)))


def test_reordered_near_copies_and_fifty_copies_are_all_attributed_to_the_original():
    reordered = "配送小哥态度很好。分量也足！面条劲道 这家店的牛肉面汤头很浓~下次还会再点"
    events = [_ev("orig", "pA", "alice", ORIGINAL, 0)] + \
        [_ev(f"c{i}", f"p{i % 5}", f"m{i}", reordered if i % 2 else ORIGINAL, 10 + i) for i in range(50)]
    v = _run(events)
    assert v["orig"].verdict == "verified"
    assert all(v[f"c{i}"].signals.get("copied_text", 0) >= 0.9 for i in range(50))
    assert all(v[f"c{i}"].verdict != "verified" for i in range(50))


def test_the_same_author_reposting_is_not_a_copy():
    v = _run([_ev("a", "pA", "alice", ORIGINAL, 0), _ev("b", "pB", "alice", ORIGINAL, 3)])
    assert v["b"].signals.get("copied_text", 0) == 0


def test_a_cluster_founder_much_older_than_its_copies_keeps_its_verdict():
    events = [_ev("orig", "pA", "alice", ORIGINAL, 0)] + \
        [_ev(f"c{i}", "pA", f"m{i}", ORIGINAL, 30 + i * 0.1, aged=False) for i in range(6)]
    v = _run(events)
    assert v["orig"].verdict == "verified" and v["orig"].signals["near_duplicate"] == 0
    assert all(v[f"c{i}"].verdict == "fake" for i in range(6))


OLD_TEXTS = ["这家火锅店的毛肚很新鲜，锅底不会太辣，服务员加汤很勤快，环境干净",
             "耳机降噪效果明显，地铁上基本听不到杂音，续航一整天没问题，佩戴也舒服",
             "酒店离地铁站很近，房间虽然不大但很干净，前台办理入住很快，早餐种类多",
             "这款电饭煲煮出来的米饭软硬适中，预约功能很实用，内胆不粘好清洗",
             "快递第二天就到了，包装完好没有压坏，水果个个新鲜，甜度也够"]


def test_an_author_who_keeps_copying_is_a_serial_copier_and_its_short_reviews_get_it_too():
    events = [_ev(f"o{i}", "pA", f"writer{i}", t, i) for i, t in enumerate(OLD_TEXTS)]
    events += [_ev(f"c{i}", "pB", "copier", t, 20 + i) for i, t in enumerate(OLD_TEXTS)]
    events += [_ev("short", "pB", "copier", "好评", 26)]  # too short to attribute as a copy
    v = _run(events)
    assert all(v[f"o{i}"].signals.get("serial_copier", 0) == 0 for i in range(len(OLD_TEXTS)))
    assert v["c4"].signals["serial_copier"] == 1.0 and v["c4"].verdict == "fake"
    assert v["short"].signals.get("copied_text", 0) == 0 and v["short"].signals["serial_copier"] > 0.5
    assert v["short"].verdict != "verified"
    assert v["c0"].signals.get("serial_copier", 0) > 0  # the first copy, revised when the habit shows


def test_one_copy_among_many_own_reviews_is_not_a_habit():
    assert copied.serial(1, 1).score == 0.0
    assert copied.serial(2, 40).score == 0.0  # two matches in forty reviews: chance for a heavy reviewer
    assert copied.serial(4, 6).score == 1.0
