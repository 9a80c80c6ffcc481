"""Delivery channels: how one message (an alert event or a digest of them) is put on the wire.

Each ``send`` raises :class:`DeliveryError` (``retry`` says whether trying again can help) or
returns. Formats follow each bot's documented webhook API:

- generic webhook: JSON; ``X-TrustScope-Timestamp`` and ``X-TrustScope-Signature: v1=<hex
  HMAC-SHA256(secret, "{timestamp}." + body)>`` so the receiver can check origin and freshness;
- WeCom group bot: ``{"msgtype": "markdown", ...}``, success is ``errcode == 0``;
- DingTalk robot: markdown; in signed-secret mode ``timestamp`` (ms) and ``sign`` =
  base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")) are added to the URL;
- Feishu bot: text; with a secret, ``timestamp`` (s) and ``sign`` = base64(HMAC-SHA256(key =
  "{timestamp}\\n{secret}", message = "")) in the body; success is ``code == 0``;
- e-mail: SMTP (STARTTLS when configured), plain text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import smtplib
import time
import urllib.parse
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from trustscope.alerts.models import AlertEvent
from trustscope.alerts.subscriptions import (
    DingTalkChannel,
    EmailChannel,
    FeishuChannel,
    WebhookChannel,
    WeComChannel,
)
from trustscope.settings import Settings


class DeliveryError(Exception):
    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def webhook_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(mac))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def summary_lines(events: list[AlertEvent]) -> list[str]:
    lines = []
    for e in events:
        a = e.alert
        lines.append(f"[{a.level.upper()} {a.severity:.0f}] {a.platform} · {a.kind} · {e.type.split('.')[1]} — "
                     f"{a.headline[:120]} (posts {a.volume}, authors {a.authors}, "
                     f"{a.velocity_per_min:.1f}/min, rumour p {a.rumour_prob:.2f}) id {a.id}")
    return lines


def title_of(events: list[AlertEvent]) -> str:
    if len(events) == 1:
        a = events[0].alert
        return f"TrustScope {a.level} {a.kind} alert: {a.platform}"
    return f"TrustScope digest: {len(events)} alert updates"


def _check_status(r: httpx.Response) -> None:
    if r.status_code == 429 or r.status_code >= 500:
        raise DeliveryError(f"HTTP {r.status_code}", retry=True)
    if r.status_code >= 400:
        raise DeliveryError(f"HTTP {r.status_code}: {r.text[:200]}", retry=False)


def _check_code(r: httpx.Response, field: str) -> None:
    _check_status(r)
    try:
        data = r.json()
    except ValueError as exc:
        raise DeliveryError(f"not JSON: {r.text[:100]}") from exc
    code = data.get(field, data.get("StatusCode", 0)) if isinstance(data, dict) else 0
    if code not in (0, None):
        raise DeliveryError(f"{field}={code}: {str(data)[:200]}")


async def send(channel: Any, events: list[AlertEvent], http: httpx.AsyncClient, settings: Settings,
               delivery_id: str) -> None:
    """Deliver ``events`` (one, or a digest) on ``channel``."""
    text = title_of(events) + "\n" + "\n".join(summary_lines(events))
    if isinstance(channel, WebhookChannel):
        payload: dict[str, Any] = {"delivery_id": delivery_id, "digest": len(events) > 1,
                                   "events": [e.model_dump(mode="json") for e in events]}
        body = orjson.dumps(payload)
        ts = int(time.time())
        headers = {"Content-Type": "application/json", "X-TrustScope-Timestamp": str(ts),
                   "X-TrustScope-Delivery": delivery_id,
                   "X-TrustScope-Signature": webhook_signature(channel.secret, ts, body)}
        _check_status(await http.post(str(channel.url), content=body, headers=headers))
    elif isinstance(channel, WeComChannel):
        md = f"**{title_of(events)}**\n" + "\n".join(f"> {line}" for line in summary_lines(events))
        _check_code(await http.post(str(channel.url), json={"msgtype": "markdown", "markdown": {"content": md}}),
                    "errcode")
    elif isinstance(channel, DingTalkChannel):
        url = str(channel.url)
        if channel.secret:
            ts = int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={dingtalk_sign(channel.secret, ts)}"
        md = f"### {title_of(events)}\n" + "\n".join(f"- {line}" for line in summary_lines(events))
        _check_code(await http.post(url, json={"msgtype": "markdown",
                                               "markdown": {"title": title_of(events), "text": md}}), "errcode")
    elif isinstance(channel, FeishuChannel):
        body_f: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if channel.secret:
            ts = int(time.time())
            body_f.update(timestamp=str(ts), sign=feishu_sign(channel.secret, ts))
        _check_code(await http.post(str(channel.url), json=body_f), "code")
    elif isinstance(channel, EmailChannel):
        await asyncio.to_thread(_send_mail, settings, channel.to, title_of(events), text)
    else:  # pragma: no cover - the union is closed
        raise DeliveryError(f"unknown channel {type(channel).__name__}", retry=False)


def _send_mail(settings: Settings, to: list[str], subject: str, text: str) -> None:
    if not settings.smtp_host:
        raise DeliveryError("TS_SMTP_HOST is not set", retry=False)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, ", ".join(to), subject
    msg.set_content(text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipients refused: {exc}", retry=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc
