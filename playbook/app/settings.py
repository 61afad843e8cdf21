"""Settings read from the environment (or a `.env` file), one object for the whole harness."""

import ipaddress
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Variant = Literal["legacy", "standardized"]
VARIANTS: tuple[Variant, ...] = ("legacy", "standardized")
ExecutorName = Literal["background", "procrastinate"]
MIN_API_KEY_LENGTH = 16


def _comma_separated(value: object) -> object:
    """`"a, b"` -> `["a", "b"]`; empty entries dropped. Lists pass through."""
    if isinstance(value, str):
        return [entry.strip() for entry in value.split(",") if entry.strip()]
    return value


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

    # Crash safety and scaling out (docs/crash-safety.md).
    executor: ExecutorName = Field(
        default="background",
        description="Who runs the standardized jobs: this process (background) or procrastinate workers.",
    )
    shutdown_grace: float = Field(
        default=10.0, ge=0, description="Seconds running jobs get to finish at SIGTERM before they are cancelled."
    )
    heartbeat_interval: float = Field(default=2.0, gt=0, description="Seconds between a process's heartbeats.")
    dead_after: float = Field(
        default=8.0, gt=0, description="A process whose heartbeat is this many seconds old is dead; its jobs resume."
    )
    job_time_limit: float = Field(default=3600.0, gt=0, description="Seconds a job may run before it is failed.")
    max_attempts: int = Field(default=3, ge=1, description="Runs a job gets, recoveries included, before it fails.")
    db_retry_for: float = Field(
        default=30.0, ge=0, description="Seconds a background write is retried while the database is unreachable."
    )
    worker_concurrency: int = Field(default=4, ge=1, description="Jobs one procrastinate worker runs at once.")
    batch_part_size: int = Field(
        default=50, ge=1, description="Items per queued part of a batch, so several workers share one batch."
    )

    # Who may call the API (playbook.app.auth).
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys, sent as X-API-Key; unset runs the API open, on loopback only.",
    )

    # What one client may ask of the API (playbook.app.limits).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Largest request body; larger gets 413.")
    rate_limit_per_second: float = Field(default=20.0, gt=0, description="Requests per second per client, sustained.")
    rate_limit_burst: int = Field(default=40, ge=1, description="Requests a client may send at once before 429.")

    # Where the services' requests go (playbook.upstream.guard).
    upstream: Literal["simulator", "internet"] = Field(
        default="simulator",
        description="simulator: every upstream call is answered by the simulator; internet: real network, guarded.",
    )
    outbound_ports: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [80, 443], description="Ports the outbound guard lets requests go to."
    )
    outbound_allowed_networks: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="CIDR blocks the guard lets through although not public (an egress proxy, say); none by default.",
    )
    outbound_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Largest upstream answer, bytes.")
    outbound_deadline: float = Field(default=10.0, gt=0, description="Most seconds one upstream request may take.")

    @field_validator("api_keys", "outbound_ports", "outbound_allowed_networks", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return _comma_separated(value)

    @field_validator("api_keys")
    @classmethod
    def _keys_are_long_enough(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if len(key) < MIN_API_KEY_LENGTH or not key.isascii() or not key.isprintable():
                raise ValueError(f"every API key must be at least {MIN_API_KEY_LENGTH} printable ASCII characters")
        return keys

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
