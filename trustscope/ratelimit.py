"""Rate limits kept in Redis, so every gateway process shares one budget per key.

A token bucket per subject: ``burst`` tokens, refilled at ``rate`` per second. One Lua script (a
redis-py ``Script``) reads, refills and takes in a single round trip using the server's clock, so
concurrent requests and processes cannot overspend and clocks of different hosts do not matter.

Two uses: every authenticated key spends one token per request (429 + Retry-After when empty),
and every *failed* authentication spends one token of the caller's IP address, so a client guessing
keys is stopped after a few tries however many keys it tries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

from trustscope.auth import Principal

# KEYS[1] bucket; ARGV: rate per s, burst, cost (0 = only look). Returns {allowed, retry_after_ms, tokens*1000}.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
local allowed = 0
local retry = 0
local need = math.max(cost, 1)
if tokens >= need then
  allowed = 1
  tokens = tokens - cost
else
  retry = math.ceil((need - tokens) * 1000 / rate)
end
if cost > 0 or state[1] then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
end
return {allowed, retry, math.floor(tokens * 1000)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int  # whole seconds, at least 1 when refused
    remaining: int


class TokenBucket:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_BUCKET)

    def take(self, subject: str, rate: float, burst: float, cost: int = 1) -> Decision:
        """Spend ``cost`` tokens of ``subject``'s bucket (``cost=0``: only check there is one)."""
        allowed, retry_ms, tokens_milli = self._script(keys=[f"{self.prefix}:rl:{subject}"],
                                                       args=[rate, burst, cost])
        return Decision(bool(allowed), 0 if allowed else max(1, math.ceil(int(retry_ms) / 1000)),
                        int(tokens_milli) // 1000)


class RateLimited(Exception):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthGuard:
    """The gateway's two limits: per key (requests) and per client address (failed keys)."""

    def __init__(self, bucket: TokenBucket, key_rate: float, key_burst: float,
                 fail_per_min: float, fail_burst: float) -> None:
        self.bucket = bucket
        self.key_rate = key_rate
        self.key_burst = key_burst
        self.fail_rate = fail_per_min / 60.0
        self.fail_burst = fail_burst

    def before_lookup(self, client_ip: str) -> None:
        """Refuse to even look a key up for an address that has spent its failed attempts."""
        d = self.bucket.take(f"authfail:{client_ip}", self.fail_rate, self.fail_burst, cost=0)
        if not d.allowed:
            raise RateLimited("too many failed API-key attempts from this address", d.retry_after_s)

    def failed(self, client_ip: str) -> None:
        self.bucket.take(f"authfail:{client_ip}", self.fail_rate, self.fail_burst, cost=1)

    def admitted(self, principal: Principal) -> Decision:
        rate = principal.rate_per_s or self.key_rate
        # a per-key rate keeps the default's burst length in seconds
        burst = max(1.0, rate * self.key_burst / self.key_rate) if principal.rate_per_s else self.key_burst
        d = self.bucket.take(f"key:{principal.key_id}", rate, burst)
        if not d.allowed:
            raise RateLimited(f"rate limit of {rate:g} requests/s for this key exceeded", d.retry_after_s)
        return d
