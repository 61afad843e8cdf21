"""The work order's `process_batch_with_own_session`, as written there, on this project's models.

Two changes only, so that it runs: `BatchJob.get_by_id(session, batch_id)` is
`session.get(Job, batch_id)`, and `process_item_with_own_session`, which the work order
leaves out, stands in for the per-item work. Everything else is the work order's text.
"""

import asyncio
import logging
from datetime import datetime

from playbook.app.models import Job
from standardized.db import get_background_session

logger = logging.getLogger(__name__)

ITEM_SECONDS = 0.2


async def process_item_with_own_session(item: str, user_id: str) -> None:
    """The per-item work: here every item succeeds after `ITEM_SECONDS`."""
    await asyncio.sleep(ITEM_SECONDS)


# --8<-- [start:function]
async def process_batch_with_own_session(batch_id: str, items: list[str], user_id: str):
    """Process a batch of items with proper SQLAlchemy async context management."""
    logger.info(f"Starting batch processing for {len(items)} items")

    # First, update status to processing
    try:
        async with get_background_session() as session:
            batch = await session.get(Job, batch_id)
            if batch:
                batch.status = "processing"
                batch.start_time = datetime.now()
                await session.flush()
    except Exception as e:
        logger.error(f"Error updating batch status: {e!s}", exc_info=True)
        # Continue processing even if update fails

    # Track processing results
    completed_count = 0
    failed_count = 0
    item_results = {}

    # Process each item with isolated sessions
    for item in items:
        try:
            # Process item with its own session
            await process_item_with_own_session(item, user_id)

            # Item processed successfully
            completed_count += 1
            item_results[item] = "completed"

            # Update batch progress with a new session
            try:
                async with get_background_session() as session:
                    batch = await session.get(Job, batch_id)
                    if batch:
                        batch.completed_count = completed_count
                        await session.flush()
            except Exception as update_error:
                logger.error(f"Error updating progress: {update_error!s}")

        except Exception as e:
            # Item processing failed
            failed_count += 1
            item_results[item] = f"failed: {e!s}"
            logger.error(f"Error processing item {item}: {e!s}", exc_info=True)

            # Update batch progress with a new session
            try:
                async with get_background_session() as session:
                    batch = await session.get(Job, batch_id)
                    if batch:
                        batch.failed_count = failed_count
                        batch.error = f"Error processing item {item}: {e!s}"
                        await session.flush()
            except Exception as update_error:
                logger.error(f"Error updating progress: {update_error!s}")

    # Update final batch status with a new session
    try:
        async with get_background_session() as session:
            batch = await session.get(Job, batch_id)
            if batch:
                # Determine final status
                final_status = "completed" if failed_count == 0 else "partial"
                batch.status = final_status
                batch.end_time = datetime.now()

                # --8<-- [start:metadata]
                # Store results in metadata
                metadata = batch.metadata or {}
                metadata["item_results"] = item_results
                batch.metadata = metadata
                # --8<-- [end:metadata]

                await session.flush()
    except Exception as e:
        logger.error(f"Error updating final status: {e!s}", exc_info=True)

    logger.info(f"Batch processing completed: {completed_count} succeeded, {failed_count} failed")


# --8<-- [end:function]
