"""Send a JSONL or CSV file through the ingest API, in NDJSON batches.

A library so that the ``trustscope import`` command stays a thin shell and tests can drive it.
Records are mapped with ``--map target=source`` pairs (dotted targets such as ``author.id`` build
nested objects) and completed with ``--set field=value`` constants. Lines the server rejects are
reported with their line number *in the file*, not in the batch.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

NUMERIC_FIELDS = {"rating": int, "author.review_count": int, "depth": int}


@dataclass
class ImportSummary:
    lines: int = 0
    accepted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "accepted": self.accepted, "updated": self.updated,
                "duplicates": self.duplicates, "rejected": len(self.rejected),
                "errors": [{"line": n, "reason": r} for n, r in self.rejected]}


def parse_pairs(pairs: Iterable[str], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        if not sep or not target.strip():
            raise ValueError(f"{what} expects target=value, got {pair!r}")
        out[target.strip()] = value.strip()
    return out


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        obj = obj.setdefault(p, {})
    obj[leaf] = value


def _get_path(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for p in dotted.split("."):
        if not isinstance(value, dict) or p not in value:
            return None
        value = value[p]
    return value


def map_record(record: dict[str, Any], mapping: dict[str, str], constants: dict[str, str]) -> dict[str, Any]:
    """Apply ``mapping`` (target <- source column) and ``constants``; unmapped fields pass through."""
    out: dict[str, Any] = {k: v for k, v in record.items() if k not in mapping.values()} if mapping else dict(record)
    for target, source in mapping.items():
        value = _get_path(record, source)
        if value not in (None, ""):
            _set_path(out, target, value)
    for target, value in constants.items():
        _set_path(out, target, value)
    for dotted, cast in NUMERIC_FIELDS.items():
        value = _get_path(out, dotted)
        if isinstance(value, str) and value.strip():
            try:
                _set_path(out, dotted, cast(value.strip()))
            except ValueError:
                try:  # "4.0" from a spreadsheet is the integer 4; anything else the server names
                    number = float(value.strip())
                    if number.is_integer():
                        _set_path(out, dotted, int(number))
                except (ValueError, OverflowError):
                    pass  # left as is: the server names the field and the reason
    for key in [k for k, v in out.items() if v == ""]:
        del out[key]  # empty CSV cells mean "absent"
    return out


def read_records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, record or None, error) for each line/row; line numbers are 1-based."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            for row in reader:
                yield reader.line_num, dict(row), None
        return
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield n, None, f"invalid JSON: {exc}"
                continue
            if not isinstance(obj, dict):
                yield n, None, "each line must be a JSON object"
                continue
            yield n, obj, None


def send_batch(client: httpx.Client, lines: list[bytes], max_wait_s: float = 300) -> dict[str, Any]:
    """POST one NDJSON batch, waiting out 503 back-pressure as the server asks."""
    waited = 0.0
    while True:
        r = client.post("/v1/documents/batch", content=b"\n".join(lines) + b"\n",
                        headers={"Content-Type": "application/x-ndjson"})
        if r.status_code == 503 and waited < max_wait_s:
            delay = float(r.headers.get("retry-after", "5"))
            time.sleep(delay)
            waited += delay
            continue
        if r.status_code >= 400:
            try:
                message = r.json().get("message", r.text)
            except ValueError:
                message = r.text
            raise RuntimeError(f"ingest API answered {r.status_code}: {message}")
        return r.json()  # type: ignore[no-any-return]


def import_file(path: Path, client: httpx.Client, fmt: str = "jsonl", mapping: dict[str, str] | None = None,
                constants: dict[str, str] | None = None, batch_size: int = 500,
                progress: Callable[[int], None] | None = None, max_wait_s: float = 300,
                retry_delay_s: float = 5) -> ImportSummary:
    """Send ``path`` in batches; lines the server could not publish for now are resent (up to
    ``max_wait_s``), lines it refused are reported with their line number in the file."""
    summary = ImportSummary()
    batch: list[bytes] = []
    numbers: list[int] = []

    def flush() -> None:
        if not batch:
            return
        pending = list(range(len(batch)))  # indices into batch of the lines still to send
        waited = 0.0
        while pending:
            result = send_batch(client, [batch[i] for i in pending])
            summary.accepted += result["accepted"]
            summary.updated += result["updated"]
            summary.duplicates += result["duplicates"]
            again: list[int] = []
            for err in result["errors"]:
                index = pending[err["line"] - 1]
                if err.get("retry") and waited < max_wait_s:
                    again.append(index)  # valid but not published (Redis went away): resend it
                else:
                    summary.rejected.append((numbers[index], err["reason"]))
            if again:
                time.sleep(retry_delay_s)
                waited += retry_delay_s
            pending = again
        if progress:
            progress(len(batch))
        batch.clear()
        numbers.clear()

    for n, record, error in read_records(path, fmt):
        summary.lines += 1
        if record is None:
            summary.rejected.append((n, error or "unreadable"))
            continue
        batch.append(orjson.dumps(map_record(record, mapping or {}, constants or {})))
        numbers.append(n)
        if len(batch) >= batch_size:
            flush()
    flush()
    summary.rejected.sort()
    return summary


def count_records(path: Path, fmt: str) -> int:
    with path.open("rb") as f:
        if fmt == "csv":
            return max(0, sum(1 for _ in csv.reader(io.TextIOWrapper(f, encoding="utf-8-sig"))) - 1)
        return sum(1 for line in f if line.strip())
