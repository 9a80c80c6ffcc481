"""Index names, aliases and the migration step that creates or upgrades them.

Readers use the read alias ``{prefix}-docs``; writers use ``{prefix}-docs-write``. A mapping change
bumps ``mapping_version`` in the template; ``migrate()`` then creates ``{prefix}-docs-v{N}``, moves the
write alias to it (new documents land there from now on), copies the old index into it with
``op_type=create`` (so nothing newer is overwritten) and finally moves the read alias. Every step is
safe to run twice and from two processes at once. The copy is a client-side scroll + bulk with the
official helpers rather than the ``_reindex`` API because the minimal local node has neither the
reindex module nor data streams (which ``helpers.reindex`` probes), and the same code must run
against the local node and production.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from trustscope.es.derived import PHRASE_FIELD, with_derived
from trustscope.observability import get_logger
from trustscope.settings import REPO_DIR

log = get_logger("trustscope.es")

TEMPLATES_DIR = REPO_DIR / "infra" / "elasticsearch"


def load_template(prefix: str, path: Path | None = None) -> dict[str, Any]:
    """The docs index template with ``{prefix}`` filled in and comments removed."""
    raw = (path or TEMPLATES_DIR / "docs-template.json").read_text("utf-8")
    body = json.loads(raw.replace("{prefix}", prefix))
    body.pop("_comment", None)
    return body


@dataclass(frozen=True)
class DocIndices:
    """The documents' indices; a subclass names another family (``alerts``) and its template."""

    family: ClassVar[str] = "docs"
    template_file: ClassVar[Path] = TEMPLATES_DIR / "docs-template.json"

    prefix: str = "trustscope"

    @property
    def template(self) -> str:
        return f"{self.prefix}-{self.family}"

    @property
    def read_alias(self) -> str:
        return f"{self.prefix}-{self.family}"

    @property
    def write_alias(self) -> str:
        return f"{self.prefix}-{self.family}-write"

    def index_name(self, version: int) -> str:
        return f"{self.prefix}-{self.family}-v{version}"

    def mapping_version(self) -> int:
        return int(load_template(self.prefix, self.template_file)["_meta"]["mapping_version"])

    # --- migration -------------------------------------------------------------------------
    def migrate(self, es: Elasticsearch, replicas: int | None = None,
                template: dict[str, Any] | None = None) -> dict[str, Any]:
        """Bring templates, indices and aliases to the current mapping version. Idempotent.

        ``template`` overrides the shipped template (tests of a version bump use it).
        """
        body = template or load_template(self.prefix, self.template_file)
        if replicas is not None:
            body["template"]["settings"]["number_of_replicas"] = replicas
        version = int(body["_meta"]["mapping_version"])
        es.indices.put_index_template(name=self.template, **body)
        target = self.index_name(version)
        current = self._alias_targets(es, self.read_alias)
        if not es.indices.exists(index=target):
            aliases: dict[str, Any] = {}
            if not current:  # first install: both aliases at once; an upgrade moves them below
                aliases = {self.write_alias: {"is_write_index": True}, self.read_alias: {}}
            try:
                es.indices.create(index=target, aliases=aliases)
                log.info("es.index_created", index=target)
            except ApiError as exc:
                if "resource_already_exists" not in str(exc):
                    raise
        es.cluster.health(index=target, wait_for_status="yellow", timeout="30s")
        old = [i for i in current if i != target]
        copied = 0
        if old:
            # New writes go to the new index first, then old documents are copied over.
            self._move_alias(es, self.write_alias, old, target, write=True)
            derive = PHRASE_FIELD in body["template"]["mappings"].get("properties", {})
            for index in old:
                copied += self._copy(es, index, target, derive)
            es.indices.refresh(index=target)
            self._move_alias(es, self.read_alias, old, target, write=False)
            log.info("es.migrated", source=old, target=target, copied=copied)
        return {"index": target, "mapping_version": version, "migrated_from": old, "copied": copied}

    def _copy(self, es: Elasticsearch, source: str, target: str, derive: bool = False) -> int:
        """Scroll ``source`` into ``target``; documents already there (newer writes) are kept.
        ``derive``: the target maps derived fields (``trustscope.es.derived``), which ``_source``
        does not hold, so each copied document gets them computed again."""
        actions = (
            {"_op_type": "create", "_index": target, "_id": hit["_id"],
             "_source": with_derived(hit["_source"]) if derive else hit["_source"]}
            for hit in helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=1000)
        )
        ok, errors = helpers.bulk(es, actions, raise_on_error=False, stats_only=False, chunk_size=1000)
        real = [e for e in errors if e.get("create", {}).get("status") != 409]  # type: ignore[union-attr]
        if real:
            raise RuntimeError(f"{len(real)} documents failed to copy from {source}: {real[:2]}")
        return ok

    def _alias_targets(self, es: Elasticsearch, alias: str) -> list[str]:
        try:
            return sorted(es.indices.get_alias(name=alias).body)
        except NotFoundError:
            return []

    def _move_alias(self, es: Elasticsearch, alias: str, old: list[str], new: str, write: bool) -> None:
        add: dict[str, Any] = {"index": new, "alias": alias}
        if write:
            add["is_write_index"] = True
        actions: list[dict[str, Any]] = [{"add": add}]
        for index in old:
            actions.append({"remove": {"index": index, "alias": alias, "must_exist": False}})
        es.indices.update_aliases(actions=actions)
