"""The shared web layer: one JSON error shape, request ids, a JSON 500, documented errors; and the
importer resending lines the server could not publish for now."""

from __future__ import annotations

import httpx
import redis
import orjson
import structlog
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from trustscope.auth import KeyRing
from trustscope.importer import import_file
from trustscope.web import REQUEST_ID_HEADER, ApiError, install_error_handlers, install_metrics, role_dependency


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_metrics(app, "test")
    ring = KeyRing("k:reader")
    reader = role_dependency(lambda _r: ring, "reader")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("password=hunter2 at 10.1.2.3:9200")

    @app.get("/redis-down")
    def redis_down() -> None:
        raise redis.ConnectionError("Error 111 connecting to 10.9.9.9:6379. Connection refused.")

    @app.get("/teapot")
    def teapot() -> None:
        raise ApiError(418, "teapot", "short and stout", colour="white")

    @app.get("/secret", dependencies=[Depends(reader)])
    def secret(n: int) -> dict[str, int]:
        return {"n": n}

    return app


def test_unexpected_errors_are_json_500s_with_the_request_id_and_no_internals():
    client = TestClient(make_app(), raise_server_exceptions=False)
    r = client.get("/boom", headers={REQUEST_ID_HEADER: "req-1"})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "internal_error" and r.json()["request_id"] == "req-1"
    assert r.headers[REQUEST_ID_HEADER] == "req-1"
    assert "hunter2" not in r.text and "10.1.2.3" not in r.text and "RuntimeError" not in r.text


def test_an_unhandled_dependency_outage_is_a_json_503_with_retry_after():
    r = TestClient(make_app(), raise_server_exceptions=False).get("/redis-down")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"] == "unavailable" and r.json()["dependency"] == "redis"
    assert "10.9.9.9" not in r.text and "6379" not in r.text


def test_the_log_line_of_a_500_carries_the_request_id(monkeypatch):
    from trustscope import web

    seen: list[dict] = []

    def keep(_logger, _name, event):
        seen.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(processors=[structlog.contextvars.merge_contextvars, keep])
    # an app started earlier in this process (configure_logging caches loggers on first use) would
    # otherwise keep web.log bound to its processors
    monkeypatch.setattr(web, "log", structlog.get_logger("trustscope.web"))
    try:
        TestClient(make_app(), raise_server_exceptions=False).get("/boom", headers={REQUEST_ID_HEADER: "req-9"})
    finally:
        structlog.reset_defaults()
    errors = [e for e in seen if e.get("event") == "http.unhandled_error"]
    assert errors and errors[0]["request_id"] == "req-9" and errors[0]["error_type"] == "RuntimeError"


def test_every_error_has_the_same_shape():
    client = TestClient(make_app())
    checks = {"/teapot": (418, "teapot"), "/nope": (404, "not_found"), "/secret?n=1": (401, "unauthorized"),
              "/secret?n=x": (401, "unauthorized")}
    for path, (status, code) in checks.items():
        r = client.get(path)
        body = r.json()
        assert r.status_code == status and body["error"] == code, path
        assert body["request_id"] == r.headers[REQUEST_ID_HEADER] and body["message"]
    r = client.get("/secret?n=x", headers={"Authorization": "Bearer k"})
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "query.n", "reason": r.json()["errors"][0]["reason"]}]
    assert r.json()["request_id"]
    assert client.post("/teapot").json()["error"] == "method_not_allowed"
    assert client.get("/teapot").json()["colour"] == "white"


def test_the_openapi_documents_errors_and_security():
    spec = make_app().openapi()
    secret = spec["paths"]["/secret"]["get"]
    assert secret["security"] == [{"bearer": []}]
    for code in ("400", "401", "403", "404", "422", "500", "503"):
        assert secret["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "401" not in spec["paths"]["/boom"]["get"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_importer_resends_lines_the_server_could_not_publish(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"source_id": f"s{i}"}) + b"\n" for i in range(3)))
    bodies: list[list[dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        lines = [orjson.loads(x) for x in request.content.splitlines() if x.strip()]
        bodies.append(lines)
        if len(bodies) == 1:  # line 2 valid but Redis went away; line 3 invalid
            return httpx.Response(200, json={"accepted": 1, "updated": 0, "duplicates": 0, "errors": [
                {"line": 2, "reason": "not published", "retry": True}, {"line": 3, "reason": "rating: bad"}]})
        return httpx.Response(200, json={"accepted": len(lines), "updated": 0, "duplicates": 0, "errors": []})

    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ingest") as client:
        summary = import_file(path, client, retry_delay_s=0)
    assert [len(b) for b in bodies] == [3, 1] and bodies[1][0]["source_id"] == "s1"
    assert summary.accepted == 2 and summary.rejected == [(3, "rating: bad")]


def test_an_error_in_a_middleware_outside_the_guard_is_still_json():
    app = make_app()

    @app.middleware("http")
    async def broken(_request, _call_next):  # added after install_error_handlers: outermost
        raise RuntimeError("db password=hunter2")

    r = TestClient(app, raise_server_exceptions=False).get("/teapot")
    assert r.status_code == 500 and r.json()["error"] == "internal_error" and "hunter2" not in r.text
