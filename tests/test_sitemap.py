"""The sitemap service spec: both variants, one set of expectations (docs/contract.md).

Legacy fails the behavioural tests three ways, each after the client's 202 and each leaving
the job `processing` (F11): a scan on a lazy relationship (F1), a batch of several domains
on one session shared by `asyncio.gather` (F9), a batch of one domain on `updated_at` read
after a commit (F3). Those runs are strict xfails; the `test_legacy_*` tests at the end
assert each failure itself, and the `test_standardized_*` ones what the pattern adds.
"""

import asyncio
import traceback
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import InvalidRequestError, MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from legacy.services.sitemap import background_service as legacy_service
from playbook.app.database import get_pool_stats
from playbook.app.factory import create_app
from playbook.app.models import Job, SitemapFile, SitemapUrl
from playbook.app.schemas import MAX_SITEMAP_DOMAINS
from playbook.app.settings import Settings
from playbook.harness.server import RunningApp, serve_in_process
from playbook.upstream.sitemaps import MAX_INDEX_DEPTH, MAX_URLS_PER_DOMAIN, Sitemap, crawl_domain
from standardized.services.sitemap import background_service as standardized_service
from tests.concurrency import SETTLE, Gauge, until, writes_blocked
from tests.faults import insert_job, slow_inserts
from tests.helpers import (
    assert_rejected_without_writing,
    aware,
    read_job,
    read_results,
    run_to_end,
    statuses_seen,
    submit,
)

SCAN = "/api/v3/sitemap/scan"
BATCH = "/api/v3/sitemap/batch"
F1_F11 = "the scan is summarised through job.sitemap_files, a lazy load in async code; the job stays processing"
F9_F11 = "the domains share one session under asyncio.gather; the job stays processing"
F3_F11 = "the batch reads job.updated_at after committing; the job stays processing"


def default_tree(host: str) -> list[dict[str, Any]]:
    """The documents the simulator serves for an ordinary host, as GET .../results lists them."""
    index, archive = f"http://{host}/sitemap_index.xml", f"http://{host}/sitemap-archive.xml"
    documents = [
        (index, "index", None, 0),
        (f"http://{host}/sitemap-pages.xml", "urlset", index, 3),
        (f"http://{host}/sitemap-posts.xml.gz", "urlset", index, 2),
        (archive, "index", index, 0),
        (f"http://{host}/sitemap-archive-2023.xml", "urlset", archive, 2),
    ]
    return [
        {"domain": host, "url": url, "kind": kind, "parent_url": parent_url, "url_count": url_count}
        for url, kind, parent_url, url_count in documents
    ]


def default_urls(host: str) -> list[dict[str, Any]]:
    pages = [
        ("/", "2024-05-01"),
        ("/about", "2024-04-12"),
        ("/contact", None),
        ("/posts/hello-world", "2024-03-01T09:30:00+00:00"),
        ("/posts/second-post", "2024-03-08"),
        ("/2023/01", "2023-01-31"),
        ("/2023/02", "2023-02-28"),
    ]
    return [{"loc": f"http://{host}{path}", "lastmod": lastmod} for path, lastmod in pages]


async def stored_sitemaps(engine: AsyncEngine, job_id: str) -> list[tuple[str, str, str | None, int]]:
    """(url, kind, parent url, URL rows) of each stored document, read in a session of its own."""
    parent = aliased(SitemapFile)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(SitemapFile.url, SitemapFile.kind, parent.url, func.count(SitemapUrl.id))
            .outerjoin(parent, SitemapFile.parent_id == parent.id)
            .outerjoin(SitemapUrl, SitemapUrl.sitemap_file_id == SitemapFile.id)
            .where(SitemapFile.job_id == uuid.UUID(job_id))
            .group_by(SitemapFile.id, parent.url)
            .order_by(SitemapFile.id)
        )
        return [(url, kind, parent_url, url_rows) for url, kind, parent_url, url_rows in rows]


def as_stored(files: list[dict[str, Any]]) -> list[tuple[str, str, str | None, int]]:
    return [(file["url"], file["kind"], file["parent_url"], file["url_count"]) for file in files]


def by_domain(files: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for file in files:
        grouped.setdefault(file["domain"], []).append(file)
    return grouped


def assert_clean_finish(app: RunningApp) -> None:
    assert app.escaped_exceptions == []
    assert get_pool_stats().checked_out == 0, "a connection was left checked out"


@pytest.mark.parametrize(
    ("path", "body", "kind", "total"),
    [
        (SCAN, {"domain": "shop.test"}, "sitemap_scan", 1),
        (BATCH, {"domains": ["shop.test", "flat-1.test"]}, "sitemap_batch", 2),
    ],
    ids=["scan", "batch"],
)
async def test_scan_and_batch_are_accepted_as_pending(
    app: RunningApp, path: str, body: dict[str, Any], kind: str, total: int
) -> None:
    accepted = await submit(app, path, body)
    assert accepted["status"] == "pending"
    assert (accepted["kind"], accepted["total_items"]) == (kind, total)
    assert (accepted["completed_count"], accepted["failed_count"]) == (0, 0)
    aware(accepted["created_at"])
    await app.wait_idle()


@pytest.mark.fails_on_legacy("F1", "F11", reason=F1_F11)
async def test_scan_stores_every_sitemap_and_url(app: RunningApp, read_engine: AsyncEngine) -> None:
    job = await run_to_end(app, SCAN, {"domain": "shop.test"})

    assert job["status"] == "completed"
    assert (job["completed_count"], job["failed_count"], job["error"]) == (1, 0, None)
    assert job["item_results"] == {"shop.test": "completed"}
    assert aware(job["created_at"]) <= aware(job["start_time"]) <= aware(job["end_time"])
    results = await read_results(app, job["id"])
    # Nested indexes, the gzipped urlset and every URL with its lastmod.
    assert results["kind"] == "sitemap_scan"
    assert results["sitemap_files"] == default_tree("shop.test")
    assert results["urls"] == default_urls("shop.test")
    # Read back in a session of its own: url_count agrees with the URL rows stored.
    assert await stored_sitemaps(read_engine, job["id"]) == as_stored(default_tree("shop.test"))
    assert_clean_finish(app)


@pytest.mark.fails_on_legacy("F1", "F11", reason=F1_F11)
@pytest.mark.parametrize(
    ("domain", "urls"),
    [
        # robots.txt lists no sitemap. The urlset has no namespace, lists /pricing twice
        # (kept once) and gives /blog a lastmod that is no date (dropped).
        (
            "flat-1.test",
            [
                ("http://flat-1.test/", None),
                ("http://flat-1.test/pricing", "2024-02-29"),
                ("http://flat-1.test/blog", None),
            ],
        ),
        # No robots.txt at all.
        ("norobots-1.test", [("http://norobots-1.test/", "2024-01-15"), ("http://norobots-1.test/faq", "2024-01-16")]),
    ],
)
async def test_scan_falls_back_to_sitemap_xml(app: RunningApp, domain: str, urls: list[tuple[str, str | None]]) -> None:
    job = await run_to_end(app, SCAN, {"domain": domain})

    assert (job["status"], job["completed_count"], job["failed_count"]) == ("completed", 1, 0)
    results = await read_results(app, job["id"])
    assert results["sitemap_files"] == [
        {
            "domain": domain,
            "url": f"http://{domain}/sitemap.xml",
            "kind": "urlset",
            "parent_url": None,
            "url_count": len(urls),
        }
    ]
    assert results["urls"] == [{"loc": loc, "lastmod": lastmod} for loc, lastmod in urls]
    assert_clean_finish(app)


UNREADABLE = {
    "fail-1.test": "http://fail-1.test/robots.txt: HTTP 500",
    "timeout-1.test": "http://timeout-1.test/robots.txt: timed out",
    "malformed-1.test": "http://malformed-1.test/sitemap.xml: malformed XML (no element found",
    "junk-1.test": "http://junk-1.test/sitemap.xml: malformed XML (not well-formed",
    "nositemap-1.test": "http://nositemap-1.test/sitemap.xml: HTTP 404",
    "huge-1.test": f"more than {MAX_URLS_PER_DOMAIN} URLs (the cap per domain) at http://huge-1.test/sitemap.xml",
    "deep-1.test": (
        f"http://deep-1.test/sitemap-deep-5.xml: sitemap indexes nested more than {MAX_INDEX_DEPTH} levels deep"
    ),
}


@pytest.mark.fails_on_legacy("F1", "F11", reason=F1_F11)
@pytest.mark.parametrize(("domain", "reason"), UNREADABLE.items(), ids=UNREADABLE.keys())
async def test_scan_of_an_unreadable_domain_fails_with_the_reason(app: RunningApp, domain: str, reason: str) -> None:
    job = await run_to_end(app, SCAN, {"domain": domain})

    assert (job["status"], job["completed_count"], job["failed_count"]) == ("failed", 0, 1)
    assert job["item_results"][domain].startswith(f"failed: {reason}")
    assert job["error"].startswith(f"Error processing item {domain}: {reason}")
    aware(job["end_time"])
    # A domain fails whole: nothing of it is kept.
    results = await read_results(app, job["id"])
    assert (results["sitemap_files"], results["urls"]) == ([], [])
    assert_clean_finish(app)


@pytest.mark.fails_on_legacy("F9", "F11", reason=F9_F11)
async def test_batch_scans_every_domain(app: RunningApp, read_engine: AsyncEngine) -> None:
    domains = ["shop.test", "flat-1.test", "norobots-1.test", "blog.test"]
    job = await run_to_end(app, BATCH, {"domains": domains})

    assert job["status"] == "completed"
    assert (job["kind"], job["completed_count"], job["failed_count"], job["error"]) == ("sitemap_batch", 4, 0, None)
    assert job["item_results"] == dict.fromkeys(domains, "completed")
    results = await read_results(app, job["id"])
    files = by_domain(results["sitemap_files"])
    assert files.keys() == set(domains)
    assert files["shop.test"] == default_tree("shop.test") and files["blog.test"] == default_tree("blog.test")
    assert [file["url"] for file in files["flat-1.test"] + files["norobots-1.test"]] == [
        "http://flat-1.test/sitemap.xml",
        "http://norobots-1.test/sitemap.xml",
    ]
    assert len(results["urls"]) == 7 + 7 + 3 + 2
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, uuid.UUID(job["id"]))
        assert (stored.status, stored.completed_count) == ("completed", 4)
    assert len(await stored_sitemaps(read_engine, job["id"])) == 5 + 5 + 1 + 1
    assert_clean_finish(app)


@pytest.mark.fails_on_legacy("F9", "F11", reason=F9_F11)
async def test_batch_goes_pending_processing_completed(app: RunningApp) -> None:
    accepted = await submit(app, BATCH, {"domains": ["slow-1.test", "slow-2.test", "shop.test"]})
    assert await statuses_seen(app, accepted) == ["pending", "processing", "completed"]


@pytest.mark.fails_on_legacy("F9", "F11", reason=F9_F11)
async def test_batch_records_failing_domains_and_continues(app: RunningApp) -> None:
    failing = ["fail-1.test", "malformed-1.test", "nositemap-1.test", "timeout-1.test"]
    job = await run_to_end(app, BATCH, {"domains": ["shop.test", *failing, "flat-1.test"]})

    assert job["status"] == "partial"
    assert (job["completed_count"], job["failed_count"]) == (2, 4)
    outcomes = job["item_results"]
    assert (outcomes["shop.test"], outcomes["flat-1.test"]) == ("completed", "completed")
    for domain in failing:
        assert outcomes[domain].startswith(f"failed: {UNREADABLE[domain]}")
    # Domains run concurrently, so "the last failure" is whichever ended last.
    assert job["error"] in {
        f"Error processing item {domain}: {outcomes[domain].removeprefix('failed: ')}" for domain in failing
    }
    results = await read_results(app, job["id"])
    assert by_domain(results["sitemap_files"]).keys() == {"shop.test", "flat-1.test"}
    assert_clean_finish(app)


@pytest.mark.fails_on_legacy("F9", "F11", reason=F9_F11)
async def test_batch_with_every_domain_failing_ends_failed(app: RunningApp) -> None:
    job = await run_to_end(app, BATCH, {"domains": ["fail-1.test", "nositemap-1.test"]})

    assert job["status"] == "failed"
    assert (job["completed_count"], job["failed_count"]) == (0, 2)
    aware(job["end_time"])
    assert_clean_finish(app)


@pytest.mark.fails_on_legacy("F3", "F11", reason=F3_F11)
async def test_batch_of_one_domain_completes(
    app: RunningApp, read_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    job = await run_to_end(app, BATCH, {"domains": ["shop.test"]})

    assert (job["status"], job["completed_count"], job["failed_count"]) == ("completed", 1, 0)
    assert job["item_results"] == {"shop.test": "completed"}
    assert await stored_sitemaps(read_engine, job["id"]) == as_stored(default_tree("shop.test"))
    assert_clean_finish(app)
    # Nothing failed after the job was finished either: a finished job keeps its status, the log tells.
    assert [record.getMessage() for record in caplog.records if record.levelname == "ERROR"] == []


BAD_REQUESTS = {
    "scan: no domain field": (SCAN, {}, "Field required"),
    "scan: malformed domain": (SCAN, {"domain": "not a domain"}, "'not a domain' is not a domain name"),
    "scan: domain with a path": (
        SCAN,
        {"domain": "shop.test/sitemap.xml"},
        "'shop.test/sitemap.xml' is not a domain name",
    ),
    "scan: domain not a string": (SCAN, {"domain": 42}, "Input should be a valid string"),
    "scan: unknown field": (SCAN, {"domain": "shop.test", "depth": 9}, "Extra inputs are not permitted"),
    "batch: empty list": (BATCH, {"domains": []}, "List should have at least 1 item"),
    "batch: too many domains": (
        BATCH,
        {"domains": [f"site-{n}.test" for n in range(MAX_SITEMAP_DOMAINS + 1)]},
        f"at most {MAX_SITEMAP_DOMAINS} items",
    ),
    "batch: malformed domain": (
        BATCH,
        {"domains": ["shop.test", "not a domain"]},
        "'not a domain' is not a domain name",
    ),
    "batch: non-string domain": (BATCH, {"domains": ["shop.test", 42]}, "Input should be a valid string"),
    "batch: duplicate domains": (
        BATCH,
        {"domains": ["shop.test", "shop.test"]},
        "domains must be unique: 'shop.test' is listed more than once",
    ),
    "batch: domains not a list": (BATCH, {"domains": "shop.test"}, "Input should be a valid list"),
    "batch: no domains field": (BATCH, {}, "Field required"),
}


@pytest.mark.parametrize(("path", "body", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_bad_request_gets_a_clear_422_and_writes_nothing(
    app: RunningApp, read_engine: AsyncEngine, path: str, body: dict[str, Any], message: str
) -> None:
    await assert_rejected_without_writing(app, read_engine, path, body, message)


@pytest.mark.standardized
async def test_standardized_job_run_twice_at_once_stores_each_domain_once_R7(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    domains = ["shop.test", "flat-1.test", "fail-1.test"]
    # One gauge per domain: how many stores of that domain ran at once.
    storing = {domain: Gauge() for domain in domains}
    store_domain = standardized_service.store_domain

    async def store_domain_gauged(**arguments: Any) -> None:
        await storing[arguments["domain"]].around(store_domain)(**arguments)

    monkeypatch.setattr(standardized_service, "store_domain", store_domain_gauged)
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
        first = await run_to_end(app, BATCH, {"domains": domains})
        stored_first = await stored_sitemaps(read_engine, first["id"])
        job_id = await insert_job(read_engine, kind="sitemap_batch", total_items=len(domains))
        # Two processes running one job, as when a process judged dead still runs: both scan every
        # domain, and each store is slowed down so that the two runs' stores of a domain overlap.
        async with slow_inserts(read_engine, "sitemap_files", seconds=0.1):
            await asyncio.gather(*(standardized_service.process_batch_background(job_id, domains) for _ in range(2)))
        again = await read_job(app, str(job_id))
        assert_clean_finish(app)

    # The two runs' stores of a domain overlapped: the race was run, not only possible.
    assert max(gauge.peak for gauge in storing.values()) == 2
    assert (first["status"], first["completed_count"], first["failed_count"]) == ("partial", 2, 1)
    assert (again["status"], again["completed_count"], again["failed_count"]) == ("partial", 2, 1)
    assert again["item_results"] == first["item_results"]
    assert sorted(await stored_sitemaps(read_engine, str(job_id))) == sorted(stored_first)


@pytest.mark.standardized
async def test_standardized_batch_crawls_a_bounded_number_of_domains_at_once_F9(
    database_url: URL, settings: Settings, read_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = standardized_service.WORKERS
    crawling = Gauge()
    monkeypatch.setattr(standardized_service, "crawl_domain", crawling.around(crawl_domain))
    # Slow domains, so the crawls overlap; a pool three times the workers, so that only the
    # workers can bound the connections, not the pool.
    domains = [f"slow-{n}.test" for n in range(1, 2 * workers + 1)]
    roomy = settings.model_copy(update={"pool_size": 3 * workers})
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=roomy)) as app:
        get_pool_stats().reset_peak()
        async with writes_blocked(read_engine, "sitemap_files"):
            accepted = await submit(app, BATCH, {"domains": domains})
            # Each worker stops storing its first domain, in a session of its own: all at once, and no more.
            await until(lambda: get_pool_stats().checked_out >= workers or app.idle)
            await asyncio.sleep(SETTLE)
            storing_at_once = get_pool_stats().checked_out
        await app.wait_idle()
        job = await read_job(app, accepted["id"])
        peak_connections = get_pool_stats().peak
        assert_clean_finish(app)

    assert (job["status"], job["completed_count"]) == ("completed", len(domains))
    assert crawling.peak == workers, "the domains were not crawled WORKERS at a time"
    # One session, and one connection, per worker; none held while crawling.
    assert storing_at_once == workers and peak_connections <= workers


@pytest.mark.standardized
async def test_standardized_unexpected_error_fails_the_job_and_records_it_R5_R6(
    database_url: URL, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def crawl_with_a_bug(domain: str) -> list[Sitemap]:
        raise RuntimeError(f"bug while crawling {domain}")

    monkeypatch.setattr(standardized_service, "crawl_domain", crawl_with_a_bug)
    async with serve_in_process(create_app("standardized", database_url=database_url, settings=settings)) as app:
        job = await run_to_end(app, BATCH, {"domains": ["shop.test", "blog.test"]})
        assert_clean_finish(app)

    assert job["status"] == "failed"
    # Each worker's own error, in the order they failed, not the TaskGroup around them.
    assert job["error"] == "RuntimeError: bug while crawling shop.test; RuntimeError: bug while crawling blog.test"
    aware(job["end_time"])


def failing_line(exc: BaseException) -> str:
    """The line of the legacy sitemap service that the exception came out of."""
    *_, innermost = (
        frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == legacy_service.__file__
    )
    return innermost.line or ""


@pytest.mark.legacy
async def test_legacy_domain_scan_dies_on_lazy_load_F1(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        accepted = await submit(app, SCAN, {"domain": "shop.test"})
        await app.wait_idle()
        # Production never re-raises it: uvicorn logs it once, after the client got its 202.
        [escaped] = app.escaped_exceptions

    assert type(escaped) is MissingGreenlet
    # SQLAlchemy 2.0 says "await_only()", 2.1 says "await_()": match the stable prefix.
    assert str(escaped).startswith("greenlet_spawn has not been called; can't call await_")
    assert "job.sitemap_files" in failing_line(escaped)
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, uuid.UUID(accepted["id"]))
        assert (stored.status, stored.completed_count, stored.failed_count, stored.end_time) == (
            "processing",
            1,
            0,
            None,
        )
        # The outcome was changed in place on the JSON column and never written (R9).
        assert stored.item_results == {}
    # The scan itself was committed before the summary touched `job.sitemap_files`.
    assert await stored_sitemaps(read_engine, accepted["id"]) == as_stored(default_tree("shop.test"))


@pytest.mark.legacy
async def test_legacy_batch_dies_on_shared_session_in_gather_F9(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        accepted = await submit(app, BATCH, {"domains": ["shop.test", "blog.test", "flat-1.test"]})
        await app.wait_idle()
        [escaped] = app.escaped_exceptions

    assert type(escaped) is InvalidRequestError
    assert str(escaped).startswith(
        "This session is provisioning a new connection; concurrent operations are not permitted"
    )
    assert failing_line(escaped) == "async with session.begin_nested():"
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, uuid.UUID(accepted["id"]))
        assert stored.status == "processing" and stored.start_time is not None
        assert (stored.completed_count, stored.failed_count, stored.end_time) == (0, 0, None)
    # The one domain that got the session finished, and went with the session's rollback.
    assert await stored_sitemaps(read_engine, accepted["id"]) == []


@pytest.mark.legacy
async def test_legacy_single_domain_batch_dies_reading_onupdate_column_F3(
    database_url: URL, settings: Settings, read_engine: AsyncEngine
) -> None:
    async with serve_in_process(create_app("legacy", database_url=database_url, settings=settings)) as app:
        accepted = await submit(app, BATCH, {"domains": ["shop.test"]})
        await app.wait_idle()
        [escaped] = app.escaped_exceptions

    assert type(escaped) is MissingGreenlet
    assert str(escaped).startswith("greenlet_spawn has not been called; can't call await_")
    assert "job.updated_at" in failing_line(escaped)
    async with AsyncSession(read_engine) as session:
        stored = await session.get_one(Job, uuid.UUID(accepted["id"]))
        assert (stored.status, stored.completed_count, stored.failed_count, stored.end_time) == (
            "processing",
            1,
            0,
            None,
        )
    assert await stored_sitemaps(read_engine, accepted["id"]) == as_stored(default_tree("shop.test"))
