"""Dependencies every gateway router shares: settings, clients, the platform registry and auth.

Routers never reach into ``request.app.state`` themselves; they declare what they need with these
(``es: ES``, ``principal: Annotated[Principal, Depends(require_role("regulator"))]``), so a router can
be read, and tested, on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import redis
from elasticsearch import Elasticsearch
from fastapi import Depends, Query, Request

from services.gateway.queries import CursorCodec, SearchFilters
from trustscope.audit import AuditLog
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
        raise ApiError(400, "bad_parameter", f"{name}: {exc}", field=name) from exc


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


principal.trustscope_optional_auth = True  # type: ignore[attr-defined]  # 401/429 in the OpenAPI


def require_role(role: str) -> Callable[[Request], Principal]:
    """A dependency admitting keys that hold ``role`` (admin holds every role): 401 without a key or
    with an unknown one, 403 with a key lacking the role. Returns the Principal."""
    return require_any(role)


def require_any(*roles: str) -> Callable[[Request], Principal]:
    """Like :func:`require_role`, admitting a key holding any of ``roles``."""

    def _require(request: Request) -> Principal:
        found = _authenticate(request)
        if found is None:
            raise ApiError(401, "unauthorized", "an API key is required (Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not any(found.has(r) for r in roles):
            wanted = f"the '{roles[0]}' role" if len(roles) == 1 else f"one of the roles {list(roles)}"
            raise ApiError(403, "forbidden", f"this key lacks {wanted}")
        return found

    _require.__name__ = "require_" + "_or_".join(roles)
    _require.trustscope_role = "|".join(roles)  # type: ignore[attr-defined]  # read by web.document_errors
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


def get_cursors(request: Request) -> CursorCodec:
    return request.app.state.cursors  # type: ignore[no-any-return]


def get_audit(request: Request) -> AuditLog:
    return request.app.state.audit  # type: ignore[no-any-return]


Cursors = Annotated[CursorCodec, Depends(get_cursors)]
Audit = Annotated[AuditLog, Depends(get_audit)]


def search_filters(
    q: Annotated[str | None, Query(max_length=500, description="simple query syntax over the Chinese text: "
                                   "words (a run of Chinese characters is a phrase), \"phrases\", a | b, -not, ( )")] = None,
    platform: Annotated[list[str], Query(description="platform id; repeat or comma-separate for several")] = [],  # noqa: B006
    kind: Annotated[Literal["review", "news", "social"] | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=100)] = None,
    sentiment: Annotated[Literal["positive", "negative", "neutral"] | None, Query()] = None,
    verdict: Annotated[Literal["verified", "suspicious", "fake"] | None, Query()] = None,
    rumour_min: Annotated[float | None, Query(ge=0, le=1)] = None,
    rumour_max: Annotated[float | None, Query(ge=0, le=1)] = None,
    since: Annotated[str | None, Query(description="ISO-8601 time or epoch seconds, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO-8601 time or epoch seconds, exclusive")] = None,
) -> SearchFilters:
    """The regulator filters, shared by search, analytics and export."""
    platforms = sorted({p.strip().lower() for item in platform for p in item.split(",") if p.strip()})
    if len(platforms) > 50:
        raise ApiError(400, "bad_parameter", "platform: at most 50 platforms", field="platform")
    if rumour_min is not None and rumour_max is not None and rumour_min > rumour_max:
        raise ApiError(400, "bad_parameter", "rumour_min is greater than rumour_max", field="rumour_min")
    start, end = time_param(since, "since"), time_param(until, "until")
    if start and end and start >= end:
        raise ApiError(400, "bad_parameter", "since must be before until", field="since")
    return SearchFilters(q=q.strip() if q and q.strip() else None, platforms=platforms, kind=kind, source=source,
                         sentiment=sentiment, verdict=verdict, rumour_min=rumour_min, rumour_max=rumour_max,
                         since=start, until=end)


Filters = Annotated[SearchFilters, Depends(search_filters)]
