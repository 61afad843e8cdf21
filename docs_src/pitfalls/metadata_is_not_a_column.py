"""Pitfall: `batch.metadata` is not a column, so the work order never finishes a batch.

On a declarative model `metadata` is the `MetaData` collection of every table, shared by
all models. `batch.metadata or {}` is that object (it is truthy), item assignment on it
raises `TypeError`, the `except` around the final update logs it, and the final status is
rolled back with it. The log still ends with "Batch processing completed".
"""

import warnings

from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from docs_src.pitfalls import work_order_batch
from docs_src.pitfalls.support import (
    describe,
    insert_job,
    logged_messages,
    read_job,
    worker,
)
from playbook.app.models import BatchItem, Job
from standardized.services.batch.batch_functions import process_batch_with_own_session

ITEMS = ["alpha.test", "beta.test"]


def declare_a_metadata_column() -> str:
    """Declare a model with a `metadata` column and return what SQLAlchemy warned."""
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")

        # --8<-- [start:reserved]
        class Scratch(DeclarativeBase):
            pass

        class Batch(Scratch):
            __tablename__ = "batches"
            id: Mapped[int] = mapped_column(primary_key=True)
            metadata: Mapped[dict[str, str]] = mapped_column(JSONB)

        # --8<-- [end:reserved]

    return "; ".join(f"{warning.category.__name__}: {warning.message}" for warning in warned)


def store_in_metadata(batch: Job) -> str:
    """Run the work order's three lines on a loaded batch and say what happened."""
    try:
        # --8<-- [start:lines]
        metadata = batch.metadata or {}
        metadata["item_results"] = {"alpha.test": "completed"}
        # --8<-- [end:lines]
    except TypeError as exc:
        return describe(exc)
    return "stored"


def _final_state(job: Job) -> dict[str, object]:
    return {
        "status": job.status,
        "completed_count": job.completed_count,
        "item_results": job.item_results,
        "ended": job.end_time is not None,
    }


async def observe(database_url: URL) -> dict[str, object]:
    async with worker(database_url):
        work_order_id = await insert_job(total_items=len(ITEMS))
        with logged_messages(work_order_batch.logger) as messages:
            await work_order_batch.process_batch_with_own_session(str(work_order_id), ITEMS, "user-1")
        work_order_job = await read_job(work_order_id)
        standard_id = await insert_job(total_items=len(ITEMS))
        await process_batch_with_own_session(standard_id, ITEMS)
        standard_job = await read_job(standard_id)
    return {
        "type of batch.metadata": type(work_order_job.metadata).__name__,
        "same object on every model": work_order_job.metadata is Job.metadata is BatchItem.metadata,
        "holds the jobs table": "jobs" in work_order_job.metadata.tables,
        "the work order's lines": store_in_metadata(work_order_job),
        "declaring a metadata column": declare_a_metadata_column(),
        "work order log": messages,
        "work order job": _final_state(work_order_job),
        "standard job": _final_state(standard_job),
    }
