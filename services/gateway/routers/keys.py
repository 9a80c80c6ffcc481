"""API-key management for admins, and "who am I" for any key.

The key itself is shown once, in the answer to create or rotate; afterwards only its record
(id, label, roles, platforms, expiry, revocation) can be read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.gateway.deps import KeyStore, Registry, principal, require_role
from trustscope.auth import ADMIN, PUBLIC, Principal
from trustscope.keys import IssuedKey, KeySpec
from trustscope.observability import get_logger
from trustscope.web import ApiError

log = get_logger("trustscope.gateway.keys")
router = APIRouter(tags=["keys"])
Admin = Annotated[Principal, Depends(require_role(ADMIN))]


class RotateSpec(BaseModel):
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="new expiry; null keeps the old one")


@router.get("/v1/keys/me")
def whoami(me: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    """The calling key's id, roles and platforms (401 without a key)."""
    if me.roles == frozenset({PUBLIC}):
        raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                       headers={"WWW-Authenticate": "Bearer"})
    return {"key_id": me.key_id, "roles": sorted(me.roles), "platforms": sorted(me.platforms),
            "label": me.label, "source": me.source}


@router.post("/v1/admin/keys", status_code=201, response_model=IssuedKey)
def create_key(store: KeyStore, registry: Registry, admin: Admin, spec: KeySpec) -> IssuedKey:
    unknown = [p for p in spec.platforms if registry.get(p) is None]
    if unknown:
        raise ApiError(400, "bad_parameter", f"platforms: unknown platform id(s) {unknown}", field="platforms")
    try:
        issued = store.create(spec)
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", str(exc), field="platforms") from exc
    log.info("keys.created", key_id=issued.record["id"], roles=spec.roles, by=admin.key_id)
    return issued


@router.get("/v1/admin/keys")
def list_keys(store: KeyStore, _a: Admin, include_revoked: bool = False) -> dict[str, Any]:
    records = [r.public() for r in store.list() if include_revoked or r.revoked_at is None]
    return {"keys": records}


@router.get("/v1/admin/keys/{key_id}")
def get_key(store: KeyStore, _a: Admin, key_id: str) -> dict[str, Any]:
    record = store.get(key_id)
    if record is None:
        raise ApiError(404, "not_found", f"no key with id '{key_id}'")
    return record.public()


@router.post("/v1/admin/keys/{key_id}/rotate", response_model=IssuedKey)
def rotate_key(store: KeyStore, admin: Admin, key_id: str, spec: RotateSpec | None = None) -> IssuedKey:
    issued = store.rotate(key_id, spec.expires_in_days if spec else None)
    if issued is None:
        raise ApiError(404, "not_found", f"no active key with id '{key_id}'")
    log.info("keys.rotated", key_id=key_id, by=admin.key_id)
    return issued


@router.delete("/v1/admin/keys/{key_id}")
def revoke_key(store: KeyStore, admin: Admin, key_id: str) -> dict[str, Any]:
    record = store.revoke(key_id)
    if record is None:
        raise ApiError(404, "not_found", f"no key with id '{key_id}'")
    log.info("keys.revoked", key_id=key_id, by=admin.key_id)
    return record.public()
