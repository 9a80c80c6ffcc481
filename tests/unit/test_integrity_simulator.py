"""Simulator: seeded, labelled, attack volumes as configured; works without the shared corpus."""

import pytest

from trustscope.integrity.simulator import ATTACKS, SimConfig, simulate


def _cfg(**kw):
    return SimConfig(**{"days": 30, "platforms": 5, "use_corpus": False, **kw})


def test_same_seed_same_stream_and_time_order():
    a, b = simulate(_cfg(seed=4, attacks=("templated",))), simulate(_cfg(seed=4, attacks=("templated",)))
    assert [(e.id, e.text, e.created_at) for e in a.events] == [(e.id, e.text, e.created_at) for e in b.events]
    assert [e.created_at for e in a.events] == sorted(e.created_at for e in a.events)
    assert simulate(_cfg(seed=5)).events[0].text != a.events[0].text or len(simulate(_cfg(seed=5)).events) != len(a.events)
    assert a.text_source == "builtin"


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_injects_about_thirty_percent_of_its_target(attack):
    sim = simulate(_cfg(seed=1, attacks=(attack,)))
    target = sim.targets[attack]
    on_target = [sim.labels[e.id] for e in sim.events if e.platform == target]
    share = on_target.count(attack) / len([x for x in on_target if x in ("honest", attack)])
    assert 0.2 <= share <= 0.45
    assert set(sim.labels.values()) <= {"honest", attack, "cover"}


def test_attack_shapes():
    sim = simulate(_cfg(seed=2, attacks=("copy_paste", "sleeper", "competitor")))
    by = {a: [e for e in sim.events if sim.labels[e.id] == a] for a in ("copy_paste", "sleeper", "competitor")}
    assert len({e.text.rstrip("👍😊🔥💯❤️!～🎉") for e in by["copy_paste"]}) <= 2
    assert all(e.created_at - e.author_created_at > 200 * 86_400 for e in by["sleeper"])
    assert all(e.rating <= 2 for e in by["competitor"])


def test_unknown_attack_is_rejected():
    with pytest.raises(ValueError, match="unknown attack"):
        simulate(_cfg(attacks=("bogus",)))
