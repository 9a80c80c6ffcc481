"""The signed webhook for pushed posts, over real HTTP against a real Redis: a valid request is
accepted once, and wrong, expired, replayed and cross-source requests are refused."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest
from pydantic import SecretStr

from services.ingest.app import create_app as create_ingest
from services.ingest.webhook import sign

pytestmark = pytest.mark.integration

SECRET = "s3cret-weibo"


def _post(client: httpx.Client, body: bytes, *, secret: str = SECRET, source: str = "weibo-push",
          ts: int | None = None, nonce: str | None = None, signature: str | None = None) -> httpx.Response:
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or uuid.uuid4().hex
    headers = {"X-TrustScope-Source": source, "X-TrustScope-Timestamp": str(ts), "X-TrustScope-Nonce": nonce,
               "X-TrustScope-Signature": signature or sign(secret, ts, nonce, body),
               "Content-Type": "application/json"}
    return client.post("/v1/webhook/posts", content=body, headers=headers)


def _doc(source_id: str, **extra: object) -> dict:
    return {"kind": "social", "source": "weibo-push", "source_id": source_id, "text": "借呗提现困难，大家小心",
            "created_at": "2026-11-01T10:00:00+08:00", "author": {"id": "u" + source_id}, **extra}


def test_webhook_signatures_valid_wrong_expired_replayed(settings, rclient, live_server):
    settings = settings.model_copy(update={"webhook_secrets": SecretStr(f"weibo-push:{SECRET},other:x-secret"),
                                           "webhook_window_s": 300})
    with live_server(create_ingest(settings)) as ingest, httpx.Client(base_url=ingest.url, timeout=30) as c:
        body = orjson.dumps([_doc("1"), _doc("2", parent_id="1")])
        ts, nonce = int(time.time()), uuid.uuid4().hex
        ok = _post(c, body, ts=ts, nonce=nonce)
        assert ok.status_code == 202, ok.text
        assert [r["status"] for r in ok.json()["results"]] == ["accepted", "accepted"]
        assert rclient.xlen(f"{settings.stream_prefix}:stream:ingest") == 2
        reply = orjson.loads(rclient.xrange(f"{settings.stream_prefix}:stream:ingest")[1][1][b"doc"])
        assert reply["parent_id"] == ok.json()["results"][0]["id"] and reply["depth"] == 1

        # the same request again (same nonce, still in the window): replayed
        again = _post(c, body, ts=ts, nonce=nonce)
        assert again.status_code == 409 and again.json()["error"] == "replayed"
        # a wrong secret, a tampered body, an unknown source
        assert _post(c, body, secret="guess").json()["error"] == "bad_signature"
        tampered = _post(c, body.replace("困难".encode(), "顺利".encode()),
                         signature=sign(SECRET, int(time.time()), "n" * 16, body), nonce="n" * 16)
        assert tampered.status_code == 401 and tampered.json()["error"] == "bad_signature"
        assert _post(c, body, source="nobody").status_code == 401
        # too old and too far ahead
        old = _post(c, body, ts=int(time.time()) - 301)
        assert old.status_code == 401 and old.json()["error"] == "expired"
        assert _post(c, body, ts=int(time.time()) + 400).json()["error"] == "expired"
        # no headers at all
        bare = c.post("/v1/webhook/posts", content=body)
        assert bare.status_code == 401 and bare.json()["error"] == "signature_missing"
        # a source may not write as another source
        cross = _post(c, orjson.dumps(_doc("3")), secret="x-secret", source="other")
        assert cross.status_code == 403 and cross.json()["errors"][0]["field"] == "source"
        # a signed but invalid document names the field
        bad = _post(c, orjson.dumps({"kind": "social", "source_id": "4", "created_at": "2026-11-01"}))
        assert bad.status_code == 422 and any(e["field"] == "text" for e in bad.json()["errors"])
        # nothing refused reached the stream
        assert rclient.xlen(f"{settings.stream_prefix}:stream:ingest") == 2
