"""Regulator search and export over every platform's documents, each use written to the audit log.

Search pages are ``search_after`` inside a point in time (a consistent snapshot however deep one
pages); export walks the same way in pages of ``EXPORT_PAGE`` and streams each page out before
reading the next, so the gateway's memory does not grow with the export.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import orjson
from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, NotFoundError
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from services.gateway import queries
from services.gateway.deps import ES, Audit, Cursors, Filters, Indices, client_ip, require_role
from services.gateway.queries import CursorCodec, CursorError, SearchFilters
from trustscope.audit import AuditEntry, AuditLog
from trustscope.auth import REGULATOR, Principal
from trustscope.es import DocIndices
from trustscope.observability import get_logger
from trustscope.web import ApiError

log = get_logger("trustscope.gateway.search")
router = APIRouter(tags=["search"])
KINDS = Literal["review", "news", "social"]
VERDICTS = Literal["verified", "suspicious", "fake"]
SortName = Literal["newest", "oldest", "relevance", "rumour", "negative", "positive"]
Regulator = Annotated[Principal, Depends(require_role(REGULATOR))]
EXPORT_PAGE = 2000
CSV_COLUMNS = ["id", "created_at", "kind", "source", "source_id", "platforms", "rating", "sentiment",
               "sentiment_score", "verdict", "fake_prob", "integrity_reasons", "rumour_score", "rumour_terms",
               "author_id", "title", "text", "url"]
EXPORT_SOURCE = ["id", "created_at", "kind", "source", "source_id", "platforms", "rating", "sentiment.label",
                 "sentiment.score", "integrity.verdict", "integrity.fake_prob", "integrity.reason_codes",
                 "rumour.score", "rumour.terms", "author_id", "title", "text", "url", "parent_id", "root_id"]


def record(audit: AuditLog, request: Request, principal: Principal, action: str, f: SearchFilters,
           count: int, started: float, fmt: str | None = None, status: str = "ok") -> None:
    """Write one audit entry (raises when it cannot be written: the caller answers 503)."""
    audit.record(AuditEntry(
        key_id=principal.key_id, role=principal.role, label=principal.label, action=action,
        endpoint=request.url.path, query=f.q, filters=f.audit(), result_count=count, format=fmt, status=status,
        request_id=getattr(request.state, "request_id", ""), client_ip=client_ip(request),
        duration_ms=round((time.perf_counter() - started) * 1000, 1)))


def paged_search(es: Elasticsearch, indices: DocIndices, codec: CursorCodec, f: SearchFilters, size: int,
                 sort: str, cursor: str | None, highlight: bool = True) -> dict[str, Any]:
    """One page of results and, when there may be more, a signed cursor for the next one."""
    fingerprint = f.fingerprint(sort)
    if cursor:
        try:
            state = codec.decode(cursor, fingerprint)
        except CursorError as exc:
            raise ApiError(400, "bad_cursor", f"cursor: {exc}", field="cursor") from exc
        pit_id, after, total = state["pit"], state["after"], state.get("total")
    else:
        pit_id = es.open_point_in_time(index=indices.read_alias, keep_alive=queries.PIT_KEEP_ALIVE)["id"]
        after, total = None, None
    body = queries.search_body(f, size, sort, pit_id, after, highlight=highlight, total=total is None)
    try:
        result = es.search(**body).body
    except (NotFoundError, EsApiError) as exc:
        if cursor and ("search_context_missing" in str(exc) or "No search context" in str(exc)
                       or getattr(getattr(exc, "meta", None), "status", 0) == 404):
            raise ApiError(400, "cursor_expired", "cursor: this result set has expired (5 minutes idle); "
                           "repeat the query", field="cursor") from exc
        raise
    hits = result["hits"]["hits"]
    if total is None:
        total = result["hits"]["total"]["value"]
    out: dict[str, Any] = {"total": total, "documents": [queries.shape_hit(h) for h in hits]}
    if len(hits) == size:
        out["next_cursor"] = codec.encode({"pit": result.get("pit_id", pit_id), "after": hits[-1]["sort"],
                                           "fp": fingerprint, "total": total})
    else:
        es.options(ignore_status=404).close_point_in_time(id=result.get("pit_id", pit_id))
    return out


@router.get("/v1/search")
def search(
    request: Request, es: ES, indices: Indices, codec: Cursors, audit: Audit, principal: Regulator, f: Filters,
    sort: SortName = "newest",
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=4000, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Documents matching the filters, with highlighted matches (``<mark>``, text HTML-escaped)."""
    started = time.perf_counter()
    page = paged_search(es, indices, codec, f, size, sort, cursor)
    record(audit, request, principal, "search", f, page["total"], started)
    return page


# --- export ------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """A CSV cell that Excel shows as text: formulas (=, +, -, @) are neutralised with a quote."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = "|".join(str(v) for v in value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def _row(doc: dict[str, Any]) -> list[str]:
    s = doc.get("sentiment") or {}
    i = doc.get("integrity") or {}
    r = doc.get("rumour") or {}
    values = [doc.get("id"), doc.get("created_at"), doc.get("kind"), doc.get("source"), doc.get("source_id"),
              doc.get("platforms"), doc.get("rating"), s.get("label"), s.get("score"), i.get("verdict"),
              i.get("fake_prob"), i.get("reason_codes"), r.get("score"), r.get("terms"), doc.get("author_id"),
              doc.get("title"), doc.get("text"), doc.get("url")]
    return [_cell(v) for v in values]


def walk(es: Elasticsearch, indices: DocIndices, f: SearchFilters, limit: int | None) -> Iterator[list[dict[str, Any]]]:
    """Every matching document, page by page, inside one point in time (closed at the end)."""
    pit_id = es.open_point_in_time(index=indices.read_alias, keep_alive="2m")["id"]
    after: list[Any] | None = None
    sent = 0
    try:
        while limit is None or sent < limit:
            size = EXPORT_PAGE if limit is None else min(EXPORT_PAGE, limit - sent)
            body = queries.search_body(f, size, "oldest", pit_id, after, highlight=False, total=False)
            body["pit"]["keep_alive"] = "2m"
            body["_source"] = EXPORT_SOURCE
            result = es.search(**body).body
            pit_id = result.get("pit_id", pit_id)
            hits = result["hits"]["hits"]
            if not hits:
                break
            sent += len(hits)
            yield [h["_source"] for h in hits]
            if len(hits) < size:
                break
            after = hits[-1]["sort"]
    finally:
        try:
            es.options(ignore_status=404).close_point_in_time(id=pit_id)
        except Exception:  # noqa: BLE001 - the PIT expires by itself
            pass


def _export_stream(fmt: str, first: list[dict[str, Any]], pages: Iterator[list[dict[str, Any]]],
                   on_done: Callable[[int, str], None]) -> Iterator[bytes]:
    count = 0
    status = "aborted"
    try:
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(CSV_COLUMNS)
            yield ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel then reads UTF-8 Chinese
            for page in _chain(first, pages):
                buf.seek(0)
                buf.truncate()
                writer.writerows(_row(d) for d in page)
                count += len(page)
                yield buf.getvalue().encode("utf-8")
        else:
            for page in _chain(first, pages):
                count += len(page)
                yield b"".join(orjson.dumps(d) + b"\n" for d in page)
        status = "ok"
    finally:
        on_done(count, status)


def _chain(first: list[dict[str, Any]], rest: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    if first:
        yield first
    yield from rest


@router.get("/v1/export", response_class=StreamingResponse, responses={200: {
    "description": "the matching documents, streamed",
    "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}}})
def export(
    request: Request, es: ES, indices: Indices, audit: Audit, principal: Regulator, f: Filters,
    format: Annotated[Literal["csv", "ndjson"], Query(description="csv (UTF-8 with BOM) or ndjson")] = "csv",
    limit: Annotated[int | None, Query(ge=1, description="at most this many documents; default all")] = None,
) -> StreamingResponse:
    """Every document matching the filters, oldest first, streamed. The audit entry is written when
    the stream ends, with the number of documents actually sent (``status: aborted`` if the client
    stopped reading)."""
    started = time.perf_counter()
    record(audit, request, principal, "export", f, 0, started, fmt=format, status="started")
    pages = walk(es, indices, f, limit)
    first = next(pages, [])  # ES errors surface here as a JSON 503/400, before any byte is sent
    rid = getattr(request.state, "request_id", "")

    def done(count: int, status: str) -> None:
        try:
            record(audit, request, principal, "export", f, count, started, fmt=format, status=status)
        except Exception as exc:  # noqa: BLE001 - the body is already sent; the log line is the trace
            log.error("audit.write_failed", action="export", key_id=principal.key_id, count=count,
                      request_id=rid, error=type(exc).__name__)
        log.info("export.finished", key_id=principal.key_id, format=format, count=count, status=status,
                 request_id=rid)

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    name = f"trustscope-export-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.{format}"
    return StreamingResponse(_export_stream(format, first, pages, done), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})
