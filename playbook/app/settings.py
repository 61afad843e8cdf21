"""Settings read from the environment (or a `.env` file), one object for the whole harness."""

from functools import cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Variant = Literal["legacy", "standardized"]
VARIANTS: tuple[Variant, ...] = ("legacy", "standardized")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg:// URL of a server; unset starts the embedded PostgreSQL.",
    )
    pgdata: Path = Field(default=PROJECT_ROOT / ".pgdata", description="Embedded server data folder.")
    database_name: str = "playbook"
    pool_size: int = 5
    max_overflow: int = 0
    pool_timeout: float = 5.0
    reserved_for_requests: int = Field(
        default=1,
        ge=0,
        description="Pool connections background sessions leave free for requests; less than the pool's size.",
    )
    upstream_latency_ms: int = Field(default=0, ge=0, description="Latency the simulator adds to every answer.")
    upstream_timeout: float = Field(default=2.0, gt=0, description="httpx timeout for upstream calls, seconds.")
    upstream_url: str | None = Field(
        default=None,
        description="Address of a served simulator (e.g. http://127.0.0.1:8100); unset mounts it in-process.",
    )
    reaper_interval: float = Field(default=30.0, gt=0, description="Seconds between sweeps for stuck jobs.")
    stale_after: float = Field(default=300.0, gt=0, description="A job processing this long without progress is stuck.")

    @property
    def background_connections(self) -> int:
        """Pool connections background sessions may hold at once: the pool less those reserved.

        Raises `ValueError` when none are left; checked when settings are read, and again
        where an engine is bound, since `model_copy(update=...)` does not validate.
        """
        pool = self.pool_size + self.max_overflow
        if self.reserved_for_requests >= pool:
            raise ValueError(
                f"RESERVED_FOR_REQUESTS={self.reserved_for_requests} leaves no connection for background work"
                f" in a pool of {pool} (POOL_SIZE + MAX_OVERFLOW): reserve fewer, or enlarge the pool"
            )
        return pool - self.reserved_for_requests

    @model_validator(mode="after")
    def _leave_background_work_a_connection(self) -> Self:
        _ = self.background_connections  # raises ValueError when none are left
        return self


@cache
def get_settings() -> Settings:
    return Settings()
