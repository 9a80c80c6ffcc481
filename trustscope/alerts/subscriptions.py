"""Subscriptions: who hears about which alerts, on which channel, how often.

Each subscription has its own watchlist (platforms, keywords, minimum severity, kinds), one channel
(generic webhook, WeCom, DingTalk, Feishu group bot, e-mail) and a schedule (immediately, or a
digest every N minutes). Kept in Redis (``{p}:al:subs`` hash id -> JSON); the delivery log of each is
a capped list ``{p}:al:sublog:{id}`` (newest first).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import orjson
import redis
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from trustscope.alerts.config import AlertConfig
from trustscope.alerts.models import Alert, AlertKind

LOG_KEEP = 200
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Watchlist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platforms: list[str] = Field(default_factory=list, max_length=200, description="empty = every platform")
    keywords: list[str] = Field(default_factory=list, max_length=100,
                                description="any of them in the headline or matched terms; empty = any")
    min_severity: float = Field(0.0, ge=0, le=100)
    kinds: list[AlertKind] = Field(default_factory=list, description="empty = rumour and negative")

    @field_validator("platforms")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return sorted({p.strip().lower() for p in v if p.strip()})

    def matches(self, alert: Alert) -> bool:
        if self.platforms and alert.platform not in self.platforms:
            return False
        if alert.severity < self.min_severity:
            return False
        if self.kinds and alert.kind not in self.kinds:
            return False
        if self.keywords:
            hay = alert.headline + " " + " ".join(alert.terms)
            return any(k in hay for k in self.keywords)
        return True


class WebhookChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["webhook"]
    url: AnyHttpUrl
    secret: str = Field(..., min_length=16, max_length=200, description="HMAC-SHA256 key for X-TrustScope-Signature")


class WeComChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["wecom"]
    url: AnyHttpUrl = Field(..., description="group bot webhook URL (…/cgi-bin/webhook/send?key=…)")


class DingTalkChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["dingtalk"]
    url: AnyHttpUrl = Field(..., description="robot webhook URL (…/robot/send?access_token=…)")
    secret: str | None = Field(None, max_length=200, description="'SEC…' secret of the signed-secret mode")


class FeishuChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["feishu"]
    url: AnyHttpUrl = Field(..., description="group bot webhook URL (…/open-apis/bot/v2/hook/…)")
    secret: str | None = Field(None, max_length=200, description="signature-verification secret, if enabled")


class EmailChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["email"]
    to: list[Annotated[str, Field(pattern=_EMAIL, max_length=254)]] = Field(..., min_length=1, max_length=50)


Channel = Annotated[WebhookChannel | WeComChannel | DingTalkChannel | FeishuChannel | EmailChannel,
                    Field(discriminator="type")]


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["immediate", "digest"] = "immediate"
    every_minutes: int | None = Field(None, ge=1, le=24 * 60, description="digest period")

    @model_validator(mode="after")
    def _period(self) -> Schedule:
        if self.mode == "digest" and self.every_minutes is None:
            raise ValueError("a digest needs every_minutes")
        if self.mode == "immediate" and self.every_minutes is not None:
            raise ValueError("every_minutes is only for mode 'digest'")
        return self


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    watchlist: Watchlist = Field(default_factory=Watchlist)
    channel: Channel
    schedule: Schedule = Field(default_factory=Schedule)
    enabled: bool = True


class Subscription(SubscriptionIn):
    id: str
    created_at: datetime
    created_by: str
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """The subscription as the API shows it: secrets masked."""
        data = self.model_dump(mode="json")
        if data["channel"].get("secret"):
            data["channel"]["secret"] = "***"
        return data


class SubscriptionStore:
    def __init__(self, client: redis.Redis, config: AlertConfig) -> None:
        self.client = client
        self.key = config.subs_key
        self.cfg = config

    def all(self) -> list[Subscription]:
        return sorted((Subscription.model_validate_json(v) for v in self.client.hvals(self.key)),
                      key=lambda s: s.created_at)

    def get(self, sub_id: str) -> Subscription | None:
        raw = self.client.hget(self.key, sub_id)
        return Subscription.model_validate_json(raw) if raw else None

    def create(self, data: SubscriptionIn, who: str) -> Subscription:
        now = datetime.now(timezone.utc)
        sub = Subscription(**data.model_dump(), id="sub_" + secrets.token_hex(8), created_at=now,
                           created_by=who, updated_at=now)
        self.client.hset(self.key, sub.id, sub.model_dump_json())
        return sub

    def replace(self, sub_id: str, data: SubscriptionIn) -> Subscription | None:
        old = self.get(sub_id)
        if old is None:
            return None
        sub = Subscription(**data.model_dump(), id=sub_id, created_at=old.created_at, created_by=old.created_by,
                           updated_at=datetime.now(timezone.utc))
        self.client.hset(self.key, sub_id, sub.model_dump_json())
        return sub

    def delete(self, sub_id: str) -> bool:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.key, sub_id)
        pipe.delete(self.cfg.outbox_key(sub_id), self.cfg.digest_key(sub_id))
        return bool(pipe.execute()[0])

    def log(self, sub_id: str, entry: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.lpush(self.cfg.sub_log_key(sub_id), orjson.dumps(entry))
        pipe.ltrim(self.cfg.sub_log_key(sub_id), 0, LOG_KEEP - 1)
        pipe.execute()

    def deliveries(self, sub_id: str, count: int = 50) -> list[dict[str, Any]]:
        return [orjson.loads(r) for r in self.client.lrange(self.cfg.sub_log_key(sub_id), 0, count - 1)]
