"""Probes of the served app that locust cannot make: huge bodies, and the largest job the caps allow.

Run by `make load` after the locust phases, against the app process it started:

- Oversized bodies: one 100 MB body, then for `seconds` three clients at once, each sending
  a 100 MB body again 0.2 s after the answer to the last: two declare its length, one sends
  it chunked (no length, so the app counts as it reads). Reports the statuses, the app's
  resident memory idle and at its peak (the kernel's high-water mark, VmHWM, reset at the
  start), and `/health` latencies alone and meanwhile.
- The largest job: a sitemap batch of `MAX_SITEMAP_DOMAINS` domains at `MAX_URLS_PER_DOMAIN`
  URLs each, stored straight into the database as the service stores it, then read through
  `GET /results` page by page at the largest page size while `/health` is polled. Reports
  page latencies, `/health` latencies meanwhile (a page that held the event loop shows there),
  and the app's memory. A page answered 5xx (legacy's broken background work can reach its
  requests, through the pool they share) is counted and asked for again; `MAX_SERVER_ERRORS` in a row end the probe.

Does not guarantee: figures for another machine; the probes, the app and PostgreSQL share
this one's cores, and every latency includes the operating system's scheduling.
"""

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.rss import peak_rss_bytes, reset_peak_rss, rss_bytes
from playbook.app.schemas import MAX_PAGE_SIZE, MAX_SITEMAP_DOMAINS
from playbook.upstream.sitemaps import MAX_URLS_PER_DOMAIN

BODY_BYTES = 100 * 1024 * 1024
CHUNK = b"a" * 65536
HEALTH_INTERVAL = 0.02
# Three senders, each some 4 bodies a second: within the default rate limit, so each gets its 413.
PAUSE_BETWEEN_BODIES = 0.2


@dataclass
class Latency:
    """Milliseconds at the 50th and 95th percentile, and the worst, over `count` requests;
    `failed` of them did not answer 200."""

    count: int
    p50: float
    p95: float
    max: float
    failed: int = 0

    @classmethod
    def of(cls, seconds: list[float], *, failed: int = 0) -> "Latency":
        ordered = sorted(seconds)
        return cls(
            count=len(ordered),
            p50=_milliseconds_at(ordered, 0.50),
            p95=_milliseconds_at(ordered, 0.95),
            max=round(ordered[-1] * 1000, 1),
            failed=failed,
        )


def _milliseconds_at(ordered: list[float], fraction: float) -> float:
    return round(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000, 1)


@dataclass
class OversizedOutcome:
    one_body: str  # "413 after 1.2 MB sent"
    statuses: dict[str, int]  # "declared 413" -> count
    memory_idle_mb: float
    memory_peak_mb: float
    health_alone: Latency
    health_meanwhile: Latency


@dataclass
class LargestJobOutcome:
    entries: int
    pages: int
    server_errors: int  # 5xx answers to a page request, each retried
    page: Latency
    health_meanwhile: Latency
    memory_idle_mb: float
    memory_peak_mb: float


class MemoryPeak:
    """The resident memory of a process when the block starts, and the most it held during it (VmHWM)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.idle = self.peak = _megabytes(rss_bytes(pid))

    async def __aenter__(self) -> "MemoryPeak":
        reset_peak_rss(self._pid)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.peak = _megabytes(peak_rss_bytes(self._pid))


def _megabytes(resident: int) -> float:
    return round(resident / 2**20, 1)


async def health_latencies(base_url: str, until: asyncio.Event) -> Latency:
    """How long `/health` took, polled every 20 ms until `until` is set, and how often it was not 200 or unanswered."""
    taken, failed = [], 0
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not until.is_set():
            started = time.perf_counter()
            try:
                healthy = (await client.get("/health")).status_code == 200
            except httpx.TransportError:
                # No answer in time, or none at all: a failed probe, timed as long as it took.
                healthy = False
            taken.append(time.perf_counter() - started)
            failed += not healthy
            await asyncio.sleep(HEALTH_INTERVAL)
    return Latency.of(taken, failed=failed)


async def send_oversized(base_url: str, api_key: str, *, chunked: bool) -> tuple[int, int]:
    """POST a 100 MB body as a client that reads the answer while it sends; (status or 0, bytes sent)."""
    async with asyncio.timeout(60):
        return await _send_oversized(base_url, api_key, chunked=chunked)


async def _send_oversized(base_url: str, api_key: str, *, chunked: bool) -> tuple[int, int]:
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    length = "transfer-encoding: chunked" if chunked else f"content-length: {BODY_BYTES}"
    writer.write(
        f"POST /api/v3/batches HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"x-api-key: {api_key}\r\n{length}\r\n\r\n".encode()
    )
    answer = asyncio.create_task(reader.readline())
    sent = 0
    try:
        while sent < BODY_BYTES and not answer.done():
            writer.write(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK)
            await writer.drain()
            sent += len(CHUNK)
        status_line = await answer
    except ConnectionError:
        status_line = await answer
    finally:
        writer.close()
    return (int(status_line.split()[1]) if status_line else 0), sent


async def oversized_bodies(base_url: str, pid: int, api_key: str, *, seconds: float) -> OversizedOutcome:
    memory = MemoryPeak(pid)
    health_alone = await _health_for(base_url, seconds)
    status, sent = await send_oversized(base_url, api_key, chunked=False)
    statuses: dict[str, int] = {}

    async def keep_sending(chunked: bool, until: asyncio.Event) -> None:
        # One 100 MB body in flight at a time, the next soon after the answer to the last.
        while not until.is_set():
            status, _ = await send_oversized(base_url, api_key, chunked=chunked)
            label = f"{'chunked' if chunked else 'declared'} {status}"
            statuses[label] = statuses.get(label, 0) + 1
            await asyncio.sleep(PAUSE_BETWEEN_BODIES)

    done = asyncio.Event()
    async with memory:
        polling = asyncio.create_task(health_latencies(base_url, done))
        senders = [asyncio.create_task(keep_sending(chunked, done)) for chunked in (False, True, False)]
        await asyncio.sleep(seconds)
        done.set()
        await asyncio.gather(*senders)
        meanwhile = await polling
    return OversizedOutcome(
        one_body=f"{status} after {sent / 2**20:.1f} MB sent",
        statuses=dict(sorted(statuses.items())),
        memory_idle_mb=memory.idle,
        memory_peak_mb=memory.peak,
        health_alone=health_alone,
        health_meanwhile=meanwhile,
    )


async def _health_for(base_url: str, seconds: float) -> Latency:
    done = asyncio.Event()
    polling = asyncio.create_task(health_latencies(base_url, done))
    await asyncio.sleep(seconds)
    done.set()
    return await polling


# The largest sitemap batch the caps allow, as the service stores it: one urlset per domain.
_STORE_LARGEST_JOB = """
WITH job AS (
    INSERT INTO jobs (id, kind, owner, params, status, total_items, completed_count, failed_count, item_results,
                      created_at, updated_at)
    VALUES (:job_id, 'sitemap_batch', :owner, '{}', 'completed', :domains, :domains, 0, '{}', now(), now())
    RETURNING id
), files AS (
    INSERT INTO sitemap_files (job_id, domain, url, kind, url_count)
    SELECT (SELECT id FROM job), 'largest-' || d || '.test', 'http://largest-' || d || '.test/sitemap.xml',
           'urlset', :urls
    FROM generate_series(1, :domains) AS d
    RETURNING id, domain
)
INSERT INTO sitemap_urls (sitemap_file_id, loc, lastmod)
SELECT files.id, 'http://' || files.domain || '/items/' || n, '2024-01-01'
FROM files, generate_series(1, :urls) AS n
"""


async def store_largest_job(database_url: URL, owner: str) -> uuid.UUID:
    job_id = uuid.uuid4()
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(_STORE_LARGEST_JOB),
                {"job_id": job_id, "owner": owner, "domains": MAX_SITEMAP_DOMAINS, "urls": MAX_URLS_PER_DOMAIN},
            )
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE sitemap_files, sitemap_urls"))
    finally:
        await engine.dispose()
    return job_id


# 5xx answers in a row after which the largest-job probe gives up on the app.
MAX_SERVER_ERRORS = 10


async def largest_job(base_url: str, pid: int, database_url: URL, *, api_key: str, owner: str) -> LargestJobOutcome:
    job_id = await store_largest_job(database_url, owner)
    memory = MemoryPeak(pid)
    page_times: list[float] = []
    entries, cursor, server_errors, in_a_row = 0, None, 0, 0
    done = asyncio.Event()
    async with memory, httpx.AsyncClient(base_url=base_url, headers={"x-api-key": api_key}, timeout=30) as client:
        polling = asyncio.create_task(health_latencies(base_url, done))
        while True:
            params = {"limit": MAX_PAGE_SIZE} | ({"cursor": cursor} if cursor else {})
            started = time.perf_counter()
            response = await client.get(f"/api/v3/jobs/{job_id}/results", params=params)
            if response.status_code == 429:
                # The default rate limit: a client reading 501 pages waits as it is told.
                await asyncio.sleep(int(response.headers["retry-after"]))
                continue
            if response.is_server_error:
                server_errors, in_a_row = server_errors + 1, in_a_row + 1
                if in_a_row == MAX_SERVER_ERRORS:
                    raise RuntimeError(f"{in_a_row} answers 5xx in a row to {response.url}; see the app's log")
                await asyncio.sleep(1)
                continue
            in_a_row = 0
            page_times.append(time.perf_counter() - started)
            response.raise_for_status()
            page = response.json()
            entries += len(page["sitemap_files"]) + len(page["urls"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        done.set()
        meanwhile = await polling
    return LargestJobOutcome(
        entries=entries,
        pages=len(page_times),
        server_errors=server_errors,
        page=Latency.of(page_times),
        health_meanwhile=meanwhile,
        memory_idle_mb=memory.idle,
        memory_peak_mb=memory.peak,
    )
