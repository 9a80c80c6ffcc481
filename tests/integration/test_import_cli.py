"""``trustscope import`` against a live ingest API: JSONL and CSV with a column mapping."""

from __future__ import annotations

import csv

import orjson
import pytest
from typer.testing import CliRunner

from services.ingest.app import create_app
from trustscope.samples import reviews
from trustscope.cli.main import app

pytestmark = pytest.mark.integration


def test_import_jsonl_twice_and_csv_with_mapping(settings, rclient, bus, live_server, tmp_path):
    items = reviews(40, seed=3)
    jsonl = tmp_path / "reviews.jsonl"
    lines = [orjson.dumps(i).decode() for i in items]
    lines.insert(5, "{oops")
    lines.insert(9, orjson.dumps({**items[0], "source_id": "x", "rating": 11}).decode())
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")

    runner = CliRunner()
    with live_server(create_app(settings)) as server:
        args = ["import", str(jsonl), "--url", server.url, "--api-key", "ingest-key", "--batch-size", "7"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        summary = orjson.loads(result.stdout.strip().splitlines()[-1])
        assert summary["accepted"] == 40 and summary["rejected"] == 2
        assert [e["line"] for e in summary["errors"]] == [6, 10]
        again = orjson.loads(runner.invoke(app, args).stdout.strip().splitlines()[-1])
        assert again["duplicates"] == 40 and again["accepted"] == 0

        path = tmp_path / "export.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["评论ID", "内容", "星级", "用户", "时间"])
            for i, item in enumerate(items[:10]):
                w.writerow([f"c{i}", item["text"], item["rating"], f"u{i}", item["created_at"]])
        result = runner.invoke(app, [
            "import", str(path), "--url", server.url, "--api-key", "ingest-key",
            "--map", "source_id=评论ID", "--map", "text=内容", "--map", "rating=星级",
            "--map", "author.id=用户", "--map", "created_at=时间",
            "--set", "kind=review", "--set", "source=csv-export"])
        assert result.exit_code == 0, result.output
        assert orjson.loads(result.stdout.strip().splitlines()[-1])["accepted"] == 10
        bad_key = runner.invoke(app, ["import", str(path), "--url", server.url, "--api-key", "wrong"])
        assert bad_key.exit_code == 2
    assert bus.backlog("ingest") == 50
