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
    max_backlog: int = Field(200_000, description="ingest answers 503 when the first stream holds more")
    max_deliveries: int = Field(5, description="deliveries before a message goes to the dead-letter stream")
    claim_idle_ms: int = Field(30_000, description="pending messages idle this long are claimed by others")
    batch_size: int = Field(256, description="messages a worker reads at once")
    batch_wait_ms: int = Field(200, description="longest a worker waits to fill a micro-batch")
    consumer_name: str | None = Field(None, description="consumer name; defaults to host-pid")

    # --- HTTP --------------------------------------------------------------------------------
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="comma-separated key:role[+role] pairs, e.g. 'k1:ingest,k2:reader+admin'",
    )
    max_body_bytes: int = Field(32 * 1024 * 1024, description="largest request body accepted")
    cors_origins: str = Field("*", description="origins allowed to embed widgets and call public endpoints")

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

    # --- observability -----------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = True
    metrics_port: int = Field(0, description="Prometheus port for workers; 0 = off")

    # --- pollers -----------------------------------------------------------------------------
    pollers_config: str | None = Field(None, description="YAML file of feeds/APIs the ingest poller polls")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
