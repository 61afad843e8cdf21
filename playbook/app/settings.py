"""Settings read from the environment (or a `.env` file), one object for the whole harness."""

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
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
        default=1, ge=0, description="Pool connections background sessions leave free for requests."
    )
    upstream_latency_ms: int = Field(default=0, ge=0, description="Latency the simulator adds to every answer.")
    upstream_timeout: float = Field(default=2.0, gt=0, description="httpx timeout for upstream calls, seconds.")
    upstream_url: str | None = Field(
        default=None,
        description="Address of a served simulator (e.g. http://127.0.0.1:8100); unset mounts it in-process.",
    )
    reaper_interval: float = Field(default=30.0, gt=0, description="Seconds between sweeps for stuck jobs.")
    stale_after: float = Field(default=300.0, gt=0, description="A job processing this long without progress is stuck.")


@cache
def get_settings() -> Settings:
    return Settings()
