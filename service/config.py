"""All settings in one place, read from the environment (prefix EXPERTMATCH_) or a .env file."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from matching.matcher import DEMAND_FIELD_WEIGHTS, DEMAND_TEXT_FIELDS, EXPERT_FIELD_WEIGHTS, EXPERT_TEXT_FIELDS
from matching.regions import province_names
from matching.scoring import ScoreWeights

REPO_ROOT = Path(__file__).resolve().parents[1]
MIN_ADMIN_KEY_LENGTH = 16


def machine_memory_mib() -> int:
    """Memory this process may use: the machine's RAM, or the container's cgroup limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit():
            total = min(total, int(raw) // 2**20)
    return total


def default_page_cache_mib() -> int:
    """Per-worker page cache: 1/64 of the machine's memory, between 16 and 512 MiB (24 GiB gives 384 MiB)."""
    return max(16, min(512, machine_memory_mib() // 64))


class Settings(BaseSettings):
    """Service settings; every field can be set as EXPERTMATCH_<NAME> (DATABASE_URL also unprefixed)."""

    model_config = SettingsConfigDict(env_prefix="EXPERTMATCH_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./expertmatch.db",
        validation_alias=AliasChoices("DATABASE_URL", "EXPERTMATCH_DATABASE_URL"),
    )
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = Field(default=None, ge=1)  # None: default_workers() (blank in .env means the same)
    worker_timeout: int = Field(default=60, ge=1)  # seconds a worker may leave the supervisor's ping unanswered
    # Several workers: the supervisor builds the index once and forks the workers from it, so that they share its
    # memory (copy-on-write) instead of each building its own.
    shared_index: bool = True
    # with the shared index: every specialist's explanation data worked out before the fork (longer start-up,
    # no tokenising on a worker's first question about a specialist)
    prepare_explanations: bool = True
    log_level: str = "INFO"
    log_json: bool = True
    fixtures_dir: Path = REPO_ROOT / "fixtures"
    # Serving suggestions (README "Serving under load"): each worker's page cache, bounded in MiB (0: off).
    suggestion_cache_mib: int = Field(default_factory=default_page_cache_mib, ge=0)
    # Heavy routes (suggestions, assignments) per worker: how many compute at once, how many may wait for a turn
    # and for how long; beyond that the answer is 503 with Retry-After, never a queue that grows without bound.
    heavy_concurrency: int = Field(default=2, ge=1, le=64)
    heavy_queue: int = Field(default=32, ge=0, le=10_000)
    heavy_queue_timeout_s: float = Field(default=5.0, gt=0, le=300)
    # How long a suggestion request waits for a warming index (start-up, bulk import) before answering 503.
    warmup_wait_s: float = Field(default=5.0, ge=0, le=300)
    db_pool_size: int = 10
    db_pool_timeout_s: float = Field(default=10.0, gt=0, le=300)
    db_connect_timeout_s: int = Field(default=5, ge=1, le=300)
    db_statement_timeout_ms: int = 15000
    # Periodic assessment (SPEC §8.3): service hours expected per engagement served in a period (full marks).
    assessment_hours_target: float = Field(default=40.0, gt=0, le=10_000)
    # Failed authentications (a key that is wrong, unknown or revoked) allowed per client address in a moving window
    # of `auth_failure_window_s` seconds; beyond that every request with a key answers 429 until the window frees.
    auth_failure_limit: int = Field(default=20, ge=0, description="0 disables the throttle")
    auth_failure_window_s: int = Field(default=60, ge=1, le=86_400)
    # Matching (SPEC §3): score weights (any non-negative scale; text must be more than half of the total, so
    # soft factors only break ties among comparable fits), field weights of the text relevance, home province.
    weight_text: float = Field(default=0.75, ge=0)
    weight_industry: float = Field(default=0.05, ge=0)
    weight_proximity: float = Field(default=0.08, ge=0)
    weight_origin: float = Field(default=0.06, ge=0, description="in-province institutions first (tie-breaker)")
    weight_capacity: float = Field(default=0.03, ge=0)
    weight_rating: float = Field(default=0.03, ge=0)
    weight_assessment: float = Field(default=0.0, ge=0, description="the last assessment grade (SPEC §8.3)")
    expert_field_weights: dict[str, float] = Field(default_factory=lambda: dict(EXPERT_FIELD_WEIGHTS))
    demand_field_weights: dict[str, float] = Field(default_factory=lambda: dict(DEMAND_FIELD_WEIGHTS))
    home_province: str = "辽宁"
    # --- programme lifecycle (SPEC §7) ---
    # Enterprises' new demands start as drafts and need an administrator's review before they are published.
    demand_review: bool = False
    # The console's cookies carry the Secure flag when true, never when false; unset: when the request is HTTPS
    # (behind a TLS-terminating proxy, run uvicorn with --proxy-headers or set this to true).
    console_secure_cookies: bool | None = None
    # Webhooks (SPEC §7.5): every service process runs a delivery worker unless this is off (then run
    # `expertmatch worker`); poll interval, per-request timeout, first retry delay (doubling, at most an hour),
    # the retry window, how often deadlines are scanned and how far ahead, the score that makes a suggestion.new.
    webhook_worker: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    deadline_scan_seconds: float = Field(default=3600.0, gt=0)
    deadline_notice_days: int = Field(default=3, ge=1)
    suggestion_notify_score: float = Field(default=0.3, ge=0, le=1)
    bilingual: bool = Field(
        default=False, description="Chinese-English concepts (CC-CEDICT + glossary): cross-language matching"
    )

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, url: str) -> str:
        """Point bare PostgreSQL URLs at the psycopg 3 driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @field_validator("admin_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, key: object) -> object:
        """`EXPERTMATCH_ADMIN_KEY=` (as in .env.example before it is filled in) means no key, not the empty key."""
        return None if isinstance(key, str) and not key.strip() else key

    @field_validator("expert_field_weights", "demand_field_weights")
    @classmethod
    def _known_fields(cls, weights: dict[str, float], info: Any) -> dict[str, float]:
        """Field weights name known text fields, are finite and non-negative, and not all zero."""
        known = EXPERT_TEXT_FIELDS if info.field_name == "expert_field_weights" else DEMAND_TEXT_FIELDS
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(known)}")
        if any(not math.isfinite(w) or w < 0 for w in weights.values()):
            raise ValueError("field weights must be finite and non-negative")
        if weights and not any(w > 0 for w in weights.values()):
            raise ValueError("at least one field weight must be positive")
        return weights

    @field_validator("home_province")
    @classmethod
    def _known_province(cls, name: str) -> str:
        """The home province must be a province-level division (Chinese or English name)."""
        if province_names(name) is None:
            raise ValueError(f"unknown province {name!r} (e.g. 辽宁, Hebei, 山西, Heilongjiang)")
        return name

    @model_validator(mode="after")
    def _valid_score_weights(self) -> Settings:
        """Score weights must make a valid :class:`ScoreWeights` (text more than half of the total)."""
        self.score_weights().normalised()
        return self

    def score_weights(self) -> ScoreWeights:
        """The score weights as the matching library takes them."""
        return ScoreWeights(
            text=self.weight_text,
            industry=self.weight_industry,
            proximity=self.weight_proximity,
            origin=self.weight_origin,
            capacity=self.weight_capacity,
            rating=self.weight_rating,
            assessment=self.weight_assessment,
        )

    def matching_options(self) -> dict[str, Any]:
        """The Matcher keyword arguments these settings fix (weights, field weights, home province)."""
        return {
            "weights": self.score_weights(),
            "expert_field_weights": dict(self.expert_field_weights),
            "demand_field_weights": dict(self.demand_field_weights),
            "home_province": self.home_province,
            "bilingual": self.bilingual,
        }

    @field_validator("workers", mode="before")
    @classmethod
    def _blank_workers_is_default(cls, workers: object) -> object:
        """`EXPERTMATCH_WORKERS=` (or `auto`) means the default for this machine."""
        return None if isinstance(workers, str) and workers.strip().lower() in {"", "auto"} else workers

    @property
    def effective_workers(self) -> int:
        """The worker count to run: the setting, else one on SQLite and one per usable core (up to 4) otherwise."""
        from service.workers import default_workers

        return self.workers or default_workers(sqlite=self.is_sqlite)

    @field_validator("admin_key")
    @classmethod
    def _strong_enough(cls, key: SecretStr | None) -> SecretStr | None:
        """A short administrator key can be guessed: refuse to start with one."""
        if key is not None and len(key.get_secret_value()) < MIN_ADMIN_KEY_LENGTH:
            raise ValueError(
                f"EXPERTMATCH_ADMIN_KEY is {len(key.get_secret_value())} characters long; it must have at least "
                f"{MIN_ADMIN_KEY_LENGTH} (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), "
                "or be left unset"
            )
        return key

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
