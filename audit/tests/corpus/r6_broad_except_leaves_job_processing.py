# expect: R5, R6
# The job is marked processing; the terminal status is written inside the try, and the broad
# handler only logs: a failure leaves the job processing with the error lost.
import logging

from _support import get_background_session, Job
from sqlalchemy import update

logger = logging.getLogger(__name__)


async def set_status(job_id: int, status: str) -> None:
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status=status))


async def convert(job_id: int) -> None:
    await set_status(job_id, "processing")
    try:
        await do_conversion(job_id)
        await set_status(job_id, "completed")
    except Exception:
        logger.exception("conversion %s failed", job_id)


async def do_conversion(job_id: int) -> None:
    raise NotImplementedError(job_id)


async def start(job_id: int, background_tasks) -> None:
    background_tasks.add_task(convert, job_id)
