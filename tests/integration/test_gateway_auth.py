"""Keys, roles and rate limits against a real Redis and Elasticsearch, over real HTTP."""

from __future__ import annotations

import httpx
import orjson
import pytest

from services.gateway.app import create_app
from tests.integration.gateway_corpus import item, pipeline_corpus
from tests.integration.helpers import ADMIN, READER, LiveServer
from trustscope.keys import RedisKeyStore

pytestmark = pytest.mark.integration

ITEMS = [
    item(1, "支付宝提现很快，客服也耐心，很满意", "alipay", 5),
    item(2, "拍拍贷催收太凶了，还款后还在打电话", "ppdai", 1),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def corpus(redis_url, es_url, classifier):
    with pipeline_corpus(redis_url, es_url, classifier, ITEMS, rate_limit_per_s=20.0, rate_limit_burst=60,
                         auth_fail_per_min=6, auth_fail_burst=4) as c:
        yield c


@pytest.fixture(scope="module")
def server(corpus):
    with LiveServer(create_app(corpus.settings)) as s:
        yield s


@pytest.fixture()
def gw(corpus, server):
    for key in corpus.redis.scan_iter(f"{corpus.settings.stream_prefix}:rl:*"):
        corpus.redis.delete(key)  # each test starts with full buckets
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def make_key(gw, **spec) -> tuple[str, str]:
    r = gw.post("/v1/admin/keys", json=spec, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()["key"], r.json()["record"]["id"]


def test_keys_are_stored_hashed_and_can_be_rotated_and_revoked(gw, corpus):
    key, key_id = make_key(gw, label="csrc analyst", roles=["regulator"], expires_in_days=30)
    assert gw.get("/v1/search", headers=bearer(key)).status_code == 200
    assert gw.get("/v1/keys/me", headers=bearer(key)).json()["roles"] == ["regulator"]
    # nothing in Redis holds the key itself
    dump = b"".join(corpus.redis.dump(k) or b"" for k in corpus.redis.scan_iter(f"{corpus.settings.stream_prefix}:keys:*"))
    assert key.encode() not in dump and key.split("_")[-1].encode() not in dump
    listed = gw.get("/v1/admin/keys", headers=ADMIN).json()["keys"]
    assert [k["label"] for k in listed if k["id"] == key_id] == ["csrc analyst"] and "key" not in listed[0]
    assert gw.get("/v1/admin/keys", headers=bearer(key)).status_code == 403

    new = gw.post(f"/v1/admin/keys/{key_id}/rotate", headers=ADMIN).json()["key"]
    assert gw.get("/v1/search", headers=bearer(key)).status_code == 401
    assert gw.get("/v1/search", headers=bearer(new)).status_code == 200

    assert gw.delete(f"/v1/admin/keys/{key_id}", headers=ADMIN).json()["revoked_at"]
    assert gw.get("/v1/search", headers=bearer(new)).status_code == 401
    assert gw.get(f"/v1/admin/keys/{key_id}", headers=ADMIN).json()["active"] is False
    assert gw.post(f"/v1/admin/keys/{key_id}/rotate", headers=ADMIN).status_code == 404


def test_expired_key_is_refused(gw, corpus):
    key, key_id = make_key(gw, label="temp", roles=["risk_team"], expires_in_days=1)
    assert gw.get("/v1/alerts", headers=bearer(key)).status_code == 200
    store = RedisKeyStore(corpus.redis, corpus.settings.stream_prefix)
    raw = orjson.loads(corpus.redis.get(store._rec(key_id)))
    raw["expires_at"] = "2020-01-01T00:00:00Z"
    corpus.redis.set(store._rec(key_id), orjson.dumps(raw))
    assert gw.get("/v1/alerts", headers=bearer(key)).status_code == 401


def test_key_spec_is_validated(gw):
    r = gw.post("/v1/admin/keys", json={"label": "x", "roles": ["superuser"]}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "roles"
    r = gw.post("/v1/admin/keys", json={"label": "x", "roles": ["platform"]}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["field"] == "platforms"
    r = gw.post("/v1/admin/keys", json={"label": "x", "roles": ["platform"], "platforms": ["no-such"]},
                headers=ADMIN)
    assert r.status_code == 400 and "no-such" in r.json()["message"]


def test_platform_key_reaches_only_its_own_platform(gw, corpus):
    key, _ = make_key(gw, label="alipay ops", roles=["platform"], platforms=["alipay"])
    own = corpus.docs["1"]["id"]
    other = corpus.docs["2"]["id"]
    assert gw.get("/v1/platforms/alipay/documents", headers=bearer(key)).json()["total"] == 1
    assert gw.get("/v1/platforms/ppdai/documents", headers=bearer(key)).status_code == 403
    assert gw.get(f"/v1/documents/{own}", headers=bearer(key)).status_code == 200
    assert gw.get(f"/v1/documents/{other}", headers=bearer(key)).status_code == 404
    assert gw.get("/v1/search", headers=bearer(key)).status_code == 403  # search is for regulators

    r = gw.put(f"/v1/platforms/alipay/reviews/{own}/reply", json={"text": "感谢您的支持！"}, headers=bearer(key))
    assert r.status_code == 200 and r.json()["text"].startswith("感谢您的支持")
    assert gw.put(f"/v1/platforms/ppdai/reviews/{other}/reply", json={"text": "x"},
                  headers=bearer(key)).status_code == 403
    assert gw.put(f"/v1/platforms/alipay/reviews/{other}/reply", json={"text": "x"},
                  headers=bearer(key)).status_code == 404  # not a review of alipay
    assert gw.put(f"/v1/platforms/alipay/reviews/{own}/reply", json={"text": "x"},
                  headers=READER).status_code == 403  # regulators do not speak for platforms

    review = {**item(99, "在自家App里收集的评价：放款快", "ppdai", 5), "source": "ignored"}
    r = gw.post("/v1/platforms/alipay/reviews", json=review, headers=bearer(key))
    assert r.status_code == 202 and r.json()["status"] == "accepted"
    assert r.json()["platforms"] == ["alipay"]  # forced to the key's platform
    news = {**review, "kind": "news", "rating": None}
    assert gw.post("/v1/platforms/alipay/reviews", json=news, headers=bearer(key)).status_code == 400
    assert gw.post("/v1/platforms/ppdai/reviews", json=review, headers=bearer(key)).status_code == 403


def test_per_key_rate_limit_answers_429_with_retry_after(gw):
    key, _ = make_key(gw, label="busy", roles=["regulator"], rate_per_s=1.0)  # burst: 3 s of it
    codes = [gw.get("/v1/keys/me", headers=bearer(key)).status_code for _ in range(10)]
    assert codes[:3] == [200] * 3 and codes[-1] == 429
    r = gw.get("/v1/keys/me", headers=bearer(key))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and r.json()["error"] == "rate_limited"
    # another key is not affected
    assert gw.get("/v1/keys/me", headers=READER).status_code == 200


def test_failed_keys_are_limited_per_address(gw):
    codes = [gw.get("/v1/search", headers=bearer(f"guess-{i}")).status_code for i in range(8)]
    assert codes[:4] == [401] * 4 and codes[-1] == 429
    # even a right key is not looked up from an address that is guessing
    r = gw.get("/v1/search", headers=READER)
    assert r.status_code == 429 and "Retry-After" in r.headers
    # public endpoints stay open
    assert gw.get("/v1/platforms").status_code == 200


def test_ingest_keyring_accepts_stored_keys(corpus):
    """What the ingest service gets from KeyRing.from_settings: the same Redis-stored keys."""
    from trustscope.auth import KeyRing
    from trustscope.keys import KeySpec

    store = RedisKeyStore(corpus.redis, corpus.settings.stream_prefix)
    issued = store.create(KeySpec(label="poller", roles=["ingest"]))
    ring = KeyRing.from_settings(corpus.settings, corpus.redis)
    assert ring.lookup(issued.key).has("ingest") and not ring.lookup(issued.key).has("regulator")
    assert ring.lookup("ingest-key").has("ingest")  # TS_API_KEYS still works
    store.revoke(issued.record["id"])
    assert ring.lookup(issued.key) is None
