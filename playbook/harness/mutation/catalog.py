"""The mutations `make mutate` applies, one at a time, each with the tests that must catch it.

Most re-introduce a catalogued failure into `standardized/` or break one of its rules; the
last ones fix a `legacy/` failure, so that the strict xfails naming it no longer fail the
way they say they do. To add one: name it, cite the rules and failures it breaks, write
the smallest edit (its `old` text must occur exactly once in the file), and list the tests
that fail on it; `make mutate MUTATIONS=<name>` runs it alone.
"""

from playbook.harness.mutation.model import Edit, Mutation, inserted_after, removed

DB = "standardized/db.py"
JOBS = "standardized/jobs.py"
ROUTES = "standardized/routes.py"
BATCH = "standardized/services/batch/batch_functions.py"
SITEMAP = "standardized/services/sitemap/background_service.py"
PLACES = "standardized/services/places/places_search_service.py"
EMAILS = "standardized/tasks/email_scraper.py"
REAPER = "standardized/tasks/job_reaper.py"
RECOVERY = "standardized/recovery.py"
WORKER = "standardized/worker.py"
DATABASE = "playbook/app/database.py"
# The batch route's hand-over to the executor, and the first line of the task.
BATCH_SUBMIT = "    await submit(executor=executor, session=session, background_tasks=background_tasks, jobs=[batch])\n"
ROUTES_LAST_IMPORT = "from standardized.jobs import NotRetryable, create_job, reopen_for_retry\n"
BATCH_TASK = "    await run_job(job_id=batch_id, work=_process_items("


def batch_handed_over(arguments: str) -> tuple[Edit, Edit]:
    """The batch route commits and hands the task `arguments` itself, as before the executor."""
    return (
        inserted_after(
            ROUTES,
            ROUTES_LAST_IMPORT,
            "from standardized.services.batch.batch_functions import process_batch_with_own_session\n",
        ),
        Edit(
            ROUTES,
            BATCH_SUBMIT,
            f"    await session.commit()\n    background_tasks.add_task(process_batch_with_own_session, {arguments})\n",
        ),
    )


BATCH_TESTS = "tests/test_batch.py"
SITEMAP_TESTS = "tests/test_sitemap.py"
AUDIT_OF_STANDARDIZED = "tests/test_audit.py::test_standardized_has_no_findings"
EMAIL_SCAN = "tests/test_email_scraper.py::test_scan_stores_every_address_once_with_the_page_it_was_first_found_on"

MUTATIONS = [
    # R1: one session per operation; ids and plain data handed to tasks.
    Mutation(
        name="task-gets-orm-object",
        ids=("R1", "F2"),
        what="the batch route hands the task the Job it committed, and the task reads its id",
        edits=(
            *batch_handed_over("batch, body.items"),
            Edit(BATCH, BATCH_TASK, "    batch_id = batch_id.id\n" + BATCH_TASK),
        ),
        tests=(AUDIT_OF_STANDARDIZED, f"{BATCH_TESTS}::test_batch_completes_and_persists_every_item[standardized]"),
    ),
    Mutation(
        name="task-gets-request-session",
        ids=("R1", "F8"),
        what="the batch task is handed the request's session, closed by then, and queries with it",
        edits=(
            *batch_handed_over("batch.id, body.items, session"),
            Edit(
                BATCH,
                "(batch_id: uuid.UUID, items: list[str]) -> None:",
                "(batch_id: uuid.UUID, items: list[str], session: AsyncSession) -> None:",
            ),
            Edit(
                BATCH,
                BATCH_TASK,
                "    await session.execute(BatchItem.__table__.select().where(BatchItem.job_id == batch_id))\n"
                + BATCH_TASK,
            ),
        ),
        tests=(f"{BATCH_TESTS}::test_batch_completes_and_persists_every_item[standardized]", AUDIT_OF_STANDARDIZED),
    ),
    Mutation(
        name="closed-session-reconnects",
        ids=("R1", "F8"),
        what="background sessions keep close_resets_only=True: one used after close silently reconnects",
        edits=(Edit(DB, "expire_on_commit=False, close_resets_only=False)", "expire_on_commit=False)"),),
        tests=("tests/test_job_reaper.py::test_background_session_used_after_close_raises_instead_of_reconnecting",),
    ),
    Mutation(
        name="request-session-outlives-the-response",
        ids=("R1", "R3"),
        what='the request session drops scope="function": it stays open while the background tasks run',
        edits=(Edit(DB, 'Depends(get_session, scope="function")', "Depends(get_session)"),),
        tests=("tests/test_lifetimes.py::test_request_session_closes_before_the_background_task_starts",),
    ),
    # R2: no session held across network I/O.
    Mutation(
        name="slot-semaphore-removed",
        ids=("R2", "F10"),
        what="background sessions take pool connections without a slot, leaving none to requests",
        edits=(removed(DB, "        background_slot(),\n"),),
        tests=(f"{BATCH_TESTS}::test_background_sessions_leave_a_connection_for_requests",),
    ),
    Mutation(
        name="session-held-across-upstream-calls",
        ids=("R2", "F10"),
        what="a places search keeps one session open across all its slow pages",
        edits=(
            Edit(
                PLACES,
                "from standardized.db import run_in_transaction\n",
                "from standardized.db import get_background_session, run_in_transaction\n",
            ),
            Edit(
                PLACES,
                "    async for page in fetch_pages(job_id=job_id, query=query, location=location):\n"
                "        await _store_page(job_id=job_id, page=page)\n"
                "        pages_read = page.number\n",
                "    async with get_background_session() as session:\n"
                "        async for page in fetch_pages(job_id=job_id, query=query, location=location):\n"
                "            await write_page(session=session, job_id=job_id, page=page)\n"
                "            pages_read = page.number\n",
            ),
        ),
        tests=("tests/test_places.py::test_standardized_search_holds_no_connection_while_it_awaits_a_page_R2",),
    ),
    # R3: no implicit I/O.
    Mutation(
        name="request-session-expires-on-commit",
        ids=("R3", "F2"),
        what="the request session keeps expire_on_commit=True: the route reads the job it just committed",
        edits=(Edit(DB, "AsyncSession(get_engine(), expire_on_commit=False) as", "AsyncSession(get_engine()) as"),),
        tests=(f"{BATCH_TESTS}::test_batch_is_accepted_as_pending[standardized]",),
    ),
    Mutation(
        name="background-session-expires-on-commit",
        ids=("R3", "F7"),
        what="background sessions keep expire_on_commit=True: their objects are unreadable once closed",
        edits=(Edit(DB, "expire_on_commit=False, close_resets_only=False)", "close_resets_only=False)"),),
        tests=("tests/test_lifetimes.py::test_objects_of_a_background_session_stay_readable_after_it_closes",),
    ),
    Mutation(
        name="relationship-read-lazily",
        ids=("R3", "F1"),
        what="the sitemap scan counts a domain's URLs through SitemapFile.urls, a lazy relationship",
        edits=(
            inserted_after(
                SITEMAP,
                "    await record_item(session=session, job_id=job_id, item=domain, error=error)\n",
                "    stored = await session.scalars(select(SitemapFile).where(SitemapFile.job_id == job_id))\n"
                '    logger.info("%d URLs stored", sum(len(file.urls) for file in stored))\n',
            ),
        ),
        tests=(f"{SITEMAP_TESTS}::test_scan_stores_every_sitemap_and_url[standardized]",),
    ),
    Mutation(
        name="onupdate-column-read-after-flush",
        ids=("R3", "F3"),
        what="the sitemap job times itself with job.updated_at after a flush expired it",
        edits=(
            Edit(
                SITEMAP,
                "from playbook.app.models import SitemapFile, SitemapUrl\n",
                "from playbook.app.models import Job, SitemapFile, SitemapUrl, utcnow\n",
            ),
            inserted_after(
                SITEMAP,
                "    await finish_job(job_id=job_id)\n",
                "    async with get_background_session() as session:\n"
                "        job = await session.get_one(Job, job_id)\n"
                "        job.end_time = utcnow()\n"
                "        await session.flush()\n"
                '        logger.info("sitemap job %s: done in %s", job_id, job.updated_at - job.start_time)\n',
            ),
        ),
        tests=(f"{SITEMAP_TESTS}::test_batch_of_one_domain_completes[standardized]",),
    ),
    # R4: no session shared by concurrent tasks; bounded concurrency.
    Mutation(
        name="workers-share-one-session",
        ids=("R4", "F9"),
        what="the sitemap workers run concurrently on one session opened for the whole job",
        edits=(
            Edit(
                SITEMAP,
                "    await run_workers(\n"
                "        items=domains, workers=WORKERS, work=lambda remaining: "
                "_work_through(job_id=job_id, remaining=remaining)\n"
                "    )\n",
                "    async with get_background_session() as shared:\n"
                "        await run_workers(\n"
                "            items=domains,\n"
                "            workers=WORKERS,\n"
                "            work=lambda remaining: _work_through(\n"
                "                job_id=job_id, remaining=remaining, session=shared\n"
                "            ),\n"
                "        )\n",
            ),
            Edit(
                SITEMAP,
                "remaining: Iterator[str]) -> None:\n"
                "    for domain in remaining:\n"
                "        await _scan_domain(job_id=job_id, domain=domain)\n",
                "remaining: Iterator[str], session: AsyncSession) -> None:\n"
                "    for domain in remaining:\n"
                "        await _scan_domain(job_id=job_id, domain=domain, session=session)\n",
            ),
            Edit(
                SITEMAP,
                "_scan_domain(*, job_id: uuid.UUID, domain: str)",
                "_scan_domain(*, job_id: uuid.UUID, domain: str, session: AsyncSession)",
            ),
            Edit(
                SITEMAP,
                "    await run_in_transaction(\n"
                "        lambda session: store_domain(session=session, job_id=job_id, domain=domain, "
                "sitemaps=sitemaps, error=error)\n"
                "    )\n",
                "    await store_domain(\n"
                "        session=session, job_id=job_id, domain=domain, sitemaps=sitemaps, error=error\n"
                "    )\n",
            ),
            Edit(
                SITEMAP,
                "from standardized.db import run_in_transaction\n",
                "from standardized.db import get_background_session, run_in_transaction\n",
            ),
        ),
        tests=(f"{SITEMAP_TESTS}::test_standardized_batch_crawls_a_bounded_number_of_domains_at_once_F9",),
    ),
    Mutation(
        name="workers-unbounded",
        ids=("R4",),
        what="run_workers starts a worker per item instead of the bounded number",
        edits=(Edit(JOBS, "for _ in range(min(workers, len(items))):", "for _ in range(len(items)):"),),
        tests=(
            f"{BATCH_TESTS}::test_concurrent_batch_bounds_connections_and_throttles_progress",
            f"{SITEMAP_TESTS}::test_standardized_batch_crawls_a_bounded_number_of_domains_at_once_F9",
        ),
    ),
    # R5: every job reaches a terminal status.
    Mutation(
        name="fail-job-dropped",
        ids=("R5", "F11"),
        what="run_job logs a task's exception and leaves the job as it was",
        edits=(removed(JOBS, "        await fail_job(job_id=job_id, error=describe_failure(exc))\n"),),
        tests=(
            f"{BATCH_TESTS}::test_database_failure_mid_batch_ends_failed_with_the_error[standardized]",
            f"{SITEMAP_TESTS}::test_standardized_unexpected_error_fails_the_job_and_records_it_R5_R6",
        ),
    ),
    Mutation(
        name="cancellation-leaves-job-processing",
        ids=("R5", "F11"),
        what="run_job re-raises a cancellation without marking the job interrupted",
        edits=(removed(JOBS, "        await interrupt_job(job_id=job_id)\n"),),
        tests=(f"{BATCH_TESTS}::test_cancelled_batch_ends_interrupted_to_be_resumed",),
    ),
    Mutation(
        name="reaper-left-running-at-shutdown",
        ids=("R5", "R8"),
        what="the lifespan starts the reaper and never cancels it",
        edits=(
            removed(
                "standardized/lifespan.py",
                "            reaper.cancel()\n            await asyncio.gather(reaper, return_exceptions=True)\n",
            ),
        ),
        tests=("tests/test_job_reaper.py::test_reaper_task_is_cancelled_at_shutdown",),
    ),
    # R6: nothing swallowed.
    Mutation(
        name="item-error-not-recorded",
        ids=("R6", "F11"),
        what="a failing item is counted but its error never reaches the job's error column",
        edits=(Edit(JOBS, "error=jobs.error if last_failure is None else", "error=jobs.error if True else"),),
        tests=(f"{BATCH_TESTS}::test_failing_items_are_recorded_and_processing_continues[standardized]",),
    ),
    Mutation(
        name="refused-write-loses-earlier-items",
        ids=("R6", "F11"),
        what="a refused batch write is not retried item by item: the items before the refused one are lost",
        edits=(Edit(BATCH, "        if len(outcomes) == 1 or is_transient(exc):\n", "        if True:\n"),),
        tests=(f"{BATCH_TESTS}::test_database_failure_mid_batch_ends_failed_with_the_error[standardized]",),
    ),
    Mutation(
        name="outcomes-written-only-when-full",
        ids=("R6", "F11"),
        what="the batch's once-a-second writer never starts: outcomes wait for a full write, the last ones forever",
        edits=(Edit(BATCH, "        group.create_task(pending.write_each_second())\n", ""),),
        tests=(f"{BATCH_TESTS}::test_progress_is_written_while_a_slow_site_is_awaited[standardized]",),
    ),
    Mutation(
        name="queue-entry-fails-alone",
        ids=("R6", "F11"),
        what="a run failing outside the job's own handling ends its queue entry, and leaves the job pending",
        edits=(Edit(WORKER, "await fail_job(job_id=uuid.UUID(job_id), error=describe_failure(exc))", "None"),),
        tests=("tests/test_queue.py::test_a_run_failing_outside_the_jobs_own_handling_fails_the_job",),
    ),
    Mutation(
        name="lost-database-run-not-retried",
        ids=("R7",),
        what="a procrastinate run that lost the database is final: the job fails where a later run would finish it",
        edits=(Edit(WORKER, "if is_transient(exception) and job.attempts", "if False and job.attempts"),),
        tests=("tests/test_queue.py::test_a_run_goes_back_to_the_queue_after_a_shutdown_or_a_lost_database_only",),
    ),
    Mutation(
        name="run-job-re-raises",
        ids=("R6", "F11"),
        what="run_job records the failure, then re-raises it to Starlette",
        edits=(
            inserted_after(
                JOBS, "        await fail_job(job_id=job_id, error=describe_failure(exc))\n", "        raise\n"
            ),
        ),
        tests=(f"{BATCH_TESTS}::test_database_failure_mid_batch_ends_failed_with_the_error[standardized]",),
    ),
    Mutation(
        name="reaper-sweep-error-swallowed",
        ids=("R6",),
        what="the reaper's failed sweep is passed over without a log line",
        edits=(
            Edit(
                REAPER,
                '            logger.exception("job reaper: sweep failed',
                '            logger.debug("job reaper: sweep failed',
            ),
        ),
        tests=("tests/test_job_reaper.py::test_reaper_logs_a_failing_sweep_and_sweeps_again",),
    ),
    # R7: idempotent and recoverable.
    Mutation(
        name="item-recorded-again-counted-again",
        ids=("R7",),
        what="an item recorded a second time (a job run twice) is added to the counts again",
        edits=(
            Edit(JOBS, " - completed_before.scalar_subquery(),", ","),
            Edit(JOBS, " - failed_before.scalar_subquery(),", ","),
        ),
        tests=(f"{SITEMAP_TESTS}::test_standardized_job_run_twice_at_once_stores_each_domain_once_R7",),
    ),
    Mutation(
        name="resumed-job-runs-every-item-again",
        ids=("R7",),
        what="a resumed batch fetches the items the database already holds once more",
        edits=(removed(BATCH, "    items = [item for item in items if item not in recorded]\n"),),
        tests=(
            f"{BATCH_TESTS}::test_resumed_batch_runs_only_the_items_not_recorded_and_counts_each_once",
            "tests/test_retry.py::test_retry_runs_the_failed_and_unprocessed_items_once_each[standardized]",
        ),
    ),
    Mutation(
        name="write-not-retried",
        ids=("R7",),
        what="a write that meets a dropped connection or a restarting database fails the job instead of waiting",
        edits=(
            inserted_after(
                DB,
                '    """Whether `exc` means the database was unreachable or restarting, '
                'so the same write may succeed later."""\n',
                "    return False\n",
            ),
        ),
        tests=("tests/test_crash_background.py::test_job_backend_terminated_mid_write_the_job_completes",),
    ),
    Mutation(
        name="live-process-job-taken-over",
        ids=("R7",),
        what="the recovery sweep takes over every job of another process, alive or not",
        edits=(Edit(RECOVERY, "(Job.instance_id != me.id) & gone,", "(Job.instance_id != me.id),"),),
        tests=("tests/test_recovery.py::test_job_of_a_live_process_is_never_touched",),
    ),
    Mutation(
        name="rerun-stores-sitemaps-twice",
        ids=("R7",),
        what="a re-run adds a domain's documents beside those of the earlier attempt",
        edits=(
            removed(
                SITEMAP,
                "    await session.execute(delete(SitemapFile).where("
                "SitemapFile.job_id == job_id, SitemapFile.domain == domain))\n",
            ),
        ),
        tests=(f"{SITEMAP_TESTS}::test_standardized_job_run_twice_at_once_stores_each_domain_once_R7",),
    ),
    Mutation(
        name="reaper-ignores-pending-jobs",
        ids=("R7", "F11"),
        what="the reaper looks at processing jobs only: a job left pending stays pending",
        edits=(Edit(REAPER, "Job.status.in_(UNFINISHED_STATUSES),", "Job.status == JobStatus.processing,"),),
        tests=(
            "tests/test_job_reaper.py::"
            "test_reaper_fails_jobs_stuck_past_stale_after_and_leaves_the_others_alone[standardized]",
        ),
    ),
    # R8: engines belong to their event loop.
    Mutation(
        name="engine-never-disposed",
        ids=("R8", "F6"),
        what="the engine is unbound at shutdown but never disposed: its connections stay open",
        edits=(
            Edit(DATABASE, "_background_slots = None\n        await engine.dispose()\n", "_background_slots = None\n"),
        ),
        tests=("tests/test_lifetimes.py::test_every_connection_of_the_app_is_closed_when_it_stops[standardized]",),
    ),
    Mutation(
        name="engine-outlives-its-event-loop",
        ids=("R8", "F5"),
        what="one engine per process, as if made at import time: kept, undisposed, from one app run to the next",
        edits=(
            Edit(DATABASE, "import asyncio\n", "import asyncio\nimport functools\n"),
            Edit(
                DATABASE,
                "    engine = create_async_engine(\n        url,",
                "    engine = _engine_of_the_process(\n        url,",
            ),
            Edit(
                DATABASE,
                "_background_slots = None\n        await engine.dispose()\n",
                "_background_slots = None\n\n\n"
                "@functools.cache\n"
                "def _engine_of_the_process(url, **options):\n"
                "    return create_async_engine(url, **options)\n",
            ),
        ),
        tests=("tests/test_lifetimes.py::test_the_app_runs_again_on_a_new_event_loop[standardized]",),
    ),
    # R9: writes that must persist are explicit.
    Mutation(
        name="json-changed-in-place",
        ids=("R9",),
        what="item outcomes are merged into the loaded job's JSON dict in place, which SQLAlchemy never writes",
        edits=(
            inserted_after(
                JOBS,
                "    jobs = Job.__table__.c\n",
                "    job = await session.get_one(Job, job_id)\n    job.item_results.update(outcomes)\n",
            ),
            removed(
                JOBS,
                '            item_results=jobs.item_results.op("||")(\n'
                "                func.jsonb_object(items, cast(list(outcomes.values()), ARRAY(Text)))\n"
                "            ),\n",
            ),
        ),
        tests=(f"{BATCH_TESTS}::test_failing_items_are_recorded_and_processing_continues[standardized]",),
    ),
    Mutation(
        name="counter-read-modify-write",
        ids=("R9",),
        what="counts are read, added to in Python and written back: concurrent workers overwrite each other",
        edits=(
            inserted_after(
                JOBS,
                "    jobs = Job.__table__.c\n",
                "    counted = (await session.execute(Job.__table__.select().where(jobs.id == job_id))).one()\n",
            ),
            Edit(JOBS, "completed_count=jobs.completed_count +", "completed_count=counted.completed_count +"),
            Edit(JOBS, "failed_count=jobs.failed_count +", "failed_count=counted.failed_count +"),
        ),
        tests=(f"{BATCH_TESTS}::test_concurrent_batch_bounds_connections_and_throttles_progress",),
    ),
    # R10: background functions are async def.
    Mutation(
        name="task-made-sync",
        ids=("R10", "F4"),
        what="the e-mail task is a sync def that calls run_job without awaiting it",
        edits=(
            Edit(EMAILS, "async def scrape_emails_task(", "def scrape_emails_task("),
            Edit(
                EMAILS,
                "    await run_job(job_id=job_id, work=_scan_site(",
                "    run_job(job_id=job_id, work=_scan_site(",
            ),
        ),
        tests=(f"{EMAIL_SCAN}[standardized]",),
    ),
    # Fixing a legacy failure: the xfails naming it must fail, since legacy no longer fails that way.
    Mutation(
        name="legacy-batch-reads-no-expired-attribute",
        ids=("F2",),
        what="legacy's request session gets expire_on_commit=False: the batch task no longer dies on batch.id",
        edits=(
            Edit(
                "legacy/db.py", "AsyncSession(get_engine()) as", "AsyncSession(get_engine(), expire_on_commit=False) as"
            ),
        ),
        # Legacy's finish_job never writes `failed`, so this test still fails, for a reason its mark does not name.
        tests=(f"{BATCH_TESTS}::test_batch_with_every_item_failing_ends_failed[legacy]",),
    ),
    Mutation(
        name="legacy-sitemap-batch-without-gather",
        ids=("F9",),
        what="legacy's sitemap batch scans its domains one after another instead of under asyncio.gather",
        edits=(
            Edit(
                "legacy/services/sitemap/background_service.py",
                "        outcomes = await asyncio.gather(\n"
                "            *(_scan_domain(session, job, domain) for domain in domains), return_exceptions=True\n"
                "        )\n",
                "        outcomes = [await _scan_domain(session, job, domain) for domain in domains]\n",
            ),
        ),
        # A batch of several domains now dies reading job.updated_at (F3), which these marks do not name.
        tests=(SITEMAP_TESTS, "-m", "legacy", "-k", "batch and not test_legacy_"),
    ),
]
