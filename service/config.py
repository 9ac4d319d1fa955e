"""All settings in one place, read from the environment (prefix EXPERTMATCH_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    workers: int = 1
    log_level: str = "INFO"
    log_json: bool = True
    fixtures_dir: Path = REPO_ROOT / "fixtures"
    suggestion_cache: int = Field(default=2048, ge=0)
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 15000

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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
