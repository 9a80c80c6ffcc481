"""The regulator audit log, searchable by admins (read-only: there is no endpoint that changes it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from services.gateway.deps import Audit, require_role, time_param
from services.gateway.queries import decode_cursor, encode_cursor
from trustscope.auth import ADMIN
from trustscope.web import ApiError

router = APIRouter(tags=["audit"], dependencies=[Depends(require_role(ADMIN))])


def _after(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", "cursor: malformed", field="cursor") from exc


@router.get("/v1/admin/audit")
def search_audit(
    audit: Audit, key_id: str | None = None,
    role: Literal["platform", "risk_team", "regulator", "admin", "ingest"] | None = None,
    action: Literal["search", "export", "analytics"] | None = None, platform: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words in the logged query or filters")] = None,
    since: str | None = None, until: str | None = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50, cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Audit entries, newest first: who (key id, role, label), when, what (query, filters), how many."""
    out = audit.search(key_id=key_id, role=role, action=action, platform=platform, q=q,
                       since=time_param(since, "since"), until=time_param(until, "until"), size=size,
                       after=_after(cursor))
    nxt = out.pop("next")
    if nxt:
        out["next_cursor"] = encode_cursor(nxt)
    return out
