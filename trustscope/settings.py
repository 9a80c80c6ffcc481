"""One settings object for every service and the CLI, read from ``TS_*`` environment variables.

Why one object: operators configure the whole stack from one table in the README, and every
service sees the same names for the same things (stream names, index aliases, bounds).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_MODEL_DIR = REPO_DIR / "models" / "trustscope-sentiment-zh"


class Settings(BaseSettings):
    """Configuration shared by all TrustScope processes."""

    model_config = SettingsConfigDict(env_prefix="TS_", env_file=None, extra="ignore")

    # --- connections -------------------------------------------------------------------------
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for streams and state")
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch node(s), comma separated")
    es_api_key: SecretStr | None = Field(None, description="Elasticsearch API key (production)")
    es_username: str | None = Field(None, description="Elasticsearch basic-auth user")
    es_password: SecretStr | None = Field(None, description="Elasticsearch basic-auth password")
    es_ca_certs: str | None = Field(None, description="CA bundle for Elasticsearch TLS")
    es_verify_certs: bool = True
    es_index_prefix: str = Field("trustscope", description="prefix of every index, alias and template")

    # --- streams -----------------------------------------------------------------------------
    stream_prefix: str = Field("ts", description="prefix of every Redis key the pipeline owns")
    max_backlog: int = Field(200_000, description="ingest answers 503 when any stage stream (ingest, "
                             "scored, verified) holds more")
    backlog_check_s: float = Field(1.0, description="how long ingest reuses one reading of the stage backlogs")
    retry_after_s: int = Field(5, description="Retry-After ingest sends with a 503 (pipeline full or Redis down)")
    max_deliveries: int = Field(5, description="deliveries before a message goes to the dead-letter stream")
    claim_idle_ms: int = Field(30_000, description="pending messages idle this long are claimed by others")
    batch_size: int = Field(256, description="messages a worker reads at once")
    batch_wait_ms: int = Field(200, description="longest a worker waits to fill a micro-batch")
    consumer_name: str | None = Field(None, description="consumer name; defaults to host-pid")
    outage_backoff_base_ms: int = Field(500, description="first wait when Redis/Elasticsearch is unreachable")
    outage_backoff_max_ms: int = Field(30_000, description="longest wait between outage retries")
    redis_cluster: bool = Field(False, description="TS_REDIS_URL names a Redis Cluster node (use a "
                                "hash-tagged TS_STREAM_PREFIX such as '{ts}', see docs/scaling.md)")

    # --- HTTP --------------------------------------------------------------------------------
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="comma-separated key:role[+role] pairs, e.g. 'k1:ingest,k2:reader+admin'",
    )
    max_body_bytes: int = Field(32 * 1024 * 1024, description="largest request body accepted")
    max_batch_lines: int = Field(10_000, description="most lines one NDJSON batch may hold (413 beyond)")
    cors_origins: str = Field("*", description="origins allowed to embed widgets and call public endpoints")
    rate_limit_per_s: float = Field(20.0, description="requests per second per API key (token bucket in Redis)")
    rate_limit_burst: float = Field(60.0, description="requests a key may make at once before the rate applies")
    auth_fail_per_min: float = Field(10.0, description="failed API-key attempts per minute per client address")
    auth_fail_burst: float = Field(10.0, description="failed API-key attempts allowed at once per client address")
    cursor_secret: SecretStr | None = Field(None, description="signs search cursors; default: derived from TS_API_KEYS")
    public_base_url: str = Field("http://127.0.0.1:8000", description="public URL of the gateway; every URL "
                                 "a widget emits starts with it (never taken from request headers)")
    score_min_verified: int = Field(10, ge=1, description="verified reviews a platform needs before its "
                                    "verified score is shown (below: 'not enough verified reviews yet')")

    # --- models ------------------------------------------------------------------------------
    sentiment_model_dir: str = Field(str(DEFAULT_MODEL_DIR), description="Hugging Face checkpoint dir")
    rumour_model_dir: str = Field(str(REPO_DIR / "models" / "trustscope-rumour-zh"),
                                  description="rumour model dir (`trustscope rumour train`); missing = lexicon only")
    torch_threads: int = Field(0, description="inference intra-op threads (torch and ONNX Runtime); 0 = number of cores")
    sentiment_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="sentiment inference backend; auto = ONNX Runtime when the model dir has "
                            "model.onnx (`trustscope model export-onnx`), else torch")
    sentiment_int8: bool = Field(False, description="serve int8 weights (model.int8.onnx / torch dynamic quantisation)")
    sentiment_max_length: int = Field(128, description="tokens per text; longer texts keep head+tail")
    sentiment_onnx_cache_dir: str = Field("~/.cache/trustscope/onnx", description="ONNX exports of model "
                                          "dirs that ship only weights (the bge-zh accurate option), by checksum")
    sentiment_prior_adjust: bool = Field(True, description="per-source label-prior adjustment in the sentiment "
                                         "service (EM, kept in Redis); active only when the model dir has prior.json")

    # --- observability -----------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = True
    metrics_port: int = Field(0, description="Prometheus port for workers; 0 = off")
    gc_thresholds: str = Field("50000,20,20", description="worker stages: the cyclic collector's thresholds "
                               "(gc.set_threshold), set once the stage is built; '' = Python's 700,10,10")
    gc_freeze: bool = Field(True, description="worker stages: gc.freeze() once the stage is built (the model "
                            "and start-up objects are not re-scanned by every full collection)")

    # --- alerts (trustscope/alerts, services/alerter; docs/alerts.md) --------------------------
    stream_taps: str = Field("verified:alerting", description="source:tap pairs; each message forwarded "
                             "to source is also put on the capped tap stream (the alerter reads 'alerting')")
    stream_tap_maxlen: int = Field(100_000, description="approximate cap of each tap stream")
    alerts_story_ttl_s: int = Field(3 * 24 * 3600, description="a story's state expires this long after its last post")
    alerts_window_s: int = Field(600, description="burst window: a story's posts in the last window are tested")
    alerts_alpha: float = Field(1e-4, description="a window count this improbable under the baseline is a burst")
    alerts_min_posts: int = Field(4, description="fewest posts in the window for an alert")
    alerts_min_authors: int = Field(3, description="fewest distinct authors in a story for an alert")
    alerts_rumour_threshold: float = Field(0.5, description="story rumour probability that makes it rumour-like")
    alerts_cooldown_s: int = Field(900, description="an open alert's updates are pushed at most this often")
    alerts_resolve_after_s: int = Field(6 * 3600, description="an alert whose story is quiet this long resolves")
    alerts_events_maxlen: int = Field(50_000, description="alert events kept for SSE resumption")
    alerts_early_enabled: bool = Field(True, description="open early-warning alerts on the rumour model alone")
    alerts_early_threshold: float = Field(0.74, description="first-post P(rumour) that opens an early warning")
    alerts_early_alpha: float = Field(5e-4, description="a new rumour-like story this improbable for its "
                                      "platform (per window) opens an early warning")
    alerts_budget_s: int = Field(7 * 86_400, description="page budget: after a page, another alert opens for "
                                 "the same platform within this long only on strong evidence (0 = off)")
    alerts_budget_surprise: float = Field(7.0, description="page budget: burst surprise that is strong evidence")
    alerts_watch_confirm_threshold: float = Field(0.999, description="page budget: a model rumour's thread "
                                                  "re-score that is strong evidence")
    alerts_watch_confirm_posts: int = Field(5, description="page budget: fewest posts of that re-score")
    delivery_timeout_s: float = Field(10.0, description="one delivery attempt's time limit")
    delivery_max_attempts: int = Field(6, description="attempts per delivery before it is logged as failed")
    smtp_host: str | None = Field(None, description="SMTP relay for e-mail subscriptions")
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "trustscope-alerts@localhost"
    webhook_secrets: SecretStr = Field(SecretStr(""), description="pushed-post webhook: comma-separated "
                                       "source:secret pairs; each source signs with its own secret")
    webhook_window_s: int = Field(300, description="signed webhook requests older or newer than this are refused")

    # --- analytics ---------------------------------------------------------------------------
    rollup_tz: str = Field("Asia/Shanghai", description="IANA time zone of the daily sentiment rollups' days; "
                           "after changing it run `trustscope es rebuild-rollups` (the indexer also rebuilds at start)")

    # --- pollers -----------------------------------------------------------------------------
    pollers_config: str | None = Field(None, description="YAML file of feeds/APIs the ingest poller polls")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
