"""Dependencies every gateway router shares: settings, clients, the platform registry and auth.

Routers never reach into ``request.app.state`` themselves; they declare what they need with these
(``es: ES``, ``principal: Annotated[Principal, Depends(require_role("regulator"))]``), so a router can
be read, and tested, on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import redis
from elasticsearch import Elasticsearch
from fastapi import Depends, Request

from trustscope.auth import ANONYMOUS, KeyRing, Principal
from trustscope.bus import StreamBus
from trustscope.es import DocIndices
from trustscope.keys import RedisKeyStore
from trustscope.platforms import Platform, PlatformRegistry
from trustscope.ratelimit import AuthGuard, RateLimited
from trustscope.schemas import parse_time
from trustscope.settings import Settings
from trustscope.web import ApiError, presented_key


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_redis(request: Request) -> redis.Redis:
    return request.app.state.redis  # type: ignore[no-any-return]


def get_es(request: Request) -> Elasticsearch:
    return request.app.state.es  # type: ignore[no-any-return]


def get_indices(request: Request) -> DocIndices:
    return request.app.state.indices  # type: ignore[no-any-return]


def get_registry(request: Request) -> PlatformRegistry:
    return request.app.state.registry  # type: ignore[no-any-return]


def get_bus(request: Request) -> StreamBus:
    return request.app.state.bus  # type: ignore[no-any-return]


def get_keyring(request: Request) -> KeyRing:
    return request.app.state.keyring  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
ES = Annotated[Elasticsearch, Depends(get_es)]
Indices = Annotated[DocIndices, Depends(get_indices)]
Registry = Annotated[PlatformRegistry, Depends(get_registry)]
Bus = Annotated[StreamBus, Depends(get_bus)]


def known_platform(registry: Registry, platform_id: str) -> Platform:
    """The path's ``platform_id`` as a registered platform, else 404."""
    platform = registry.get(platform_id)
    if platform is None:
        raise ApiError(404, "unknown_platform", f"no platform with id '{platform_id}'")
    return platform


KnownPlatform = Annotated[Platform, Depends(known_platform)]


def time_param(value: str | None, name: str) -> datetime | None:
    """An ISO-8601 query parameter, or 400 naming the parameter."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ApiError(400, "bad_parameter", f"{name}: {exc}") from exc


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _guard(request: Request) -> AuthGuard | None:
    return getattr(request.app.state, "auth_guard", None)


def _too_many(exc: RateLimited) -> ApiError:
    return ApiError(429, "rate_limited", str(exc), headers={"Retry-After": str(exc.retry_after_s)},
                    retry_after_s=exc.retry_after_s)


def _authenticate(request: Request) -> Principal | None:
    """The caller's principal (None when no key was presented); 401 for a wrong/expired key, 429 when
    the key's rate limit or the address's failed-attempt limit is spent.

    The result is kept on ``request.state.principal`` so later dependencies and the audit log see it
    without a second lookup (and the rate limit is spent once per request)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    presented = presented_key(request)
    if not presented:
        return None
    guard = _guard(request)
    try:
        if guard is not None:
            guard.before_lookup(client_ip(request))
        found = get_keyring(request).lookup(presented)
        if found is None:
            if guard is not None:
                guard.failed(client_ip(request))
            raise ApiError(401, "unauthorized", "this API key is unknown, revoked or expired",
                           headers={"WWW-Authenticate": "Bearer"})
        if guard is not None:
            guard.admitted(found)
    except RateLimited as exc:
        raise _too_many(exc) from exc
    request.state.principal = found
    return found


def principal(request: Request) -> Principal:
    """Optional auth: the caller's principal, or the anonymous ``public`` principal without a key.
    A key that is presented but wrong still answers 401 (a typo must not silently downgrade)."""
    return _authenticate(request) or ANONYMOUS


def require_role(role: str) -> Callable[[Request], Principal]:
    """A dependency admitting keys that hold ``role`` (admin holds every role): 401 without a key or
    with an unknown one, 403 with a key lacking the role. Returns the Principal."""

    def _require(request: Request) -> Principal:
        found = _authenticate(request)
        if found is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not found.has(role):
            raise ApiError(403, "forbidden", f"this key lacks the '{role}' role")
        return found

    _require.__name__ = f"require_{role}"
    return _require


def require_any(*roles: str) -> Callable[[Request], Principal]:
    """Like :func:`require_role`, admitting a key holding any of ``roles``."""

    def _require(request: Request) -> Principal:
        found = _authenticate(request)
        if found is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not any(found.has(r) for r in roles):
            raise ApiError(403, "forbidden", f"this key needs one of the roles {list(roles)}")
        return found

    _require.__name__ = "require_" + "_or_".join(roles)
    return _require


def require_platform_access(principal: Principal, platform_id: str) -> None:
    """A ``platform`` key may touch only the platforms it carries; every other admitted role sees all."""
    if not principal.may_access_platform(platform_id):
        raise ApiError(403, "forbidden", f"this key is not for platform '{platform_id}'")


PrincipalDep = Annotated[Principal, Depends(principal)]


def get_key_store(request: Request) -> RedisKeyStore:
    store = get_keyring(request).store
    if not isinstance(store, RedisKeyStore):  # only when a test builds a keyring without Redis
        raise ApiError(503, "unavailable", "the key store is not configured")
    return store


KeyStore = Annotated[RedisKeyStore, Depends(get_key_store)]
