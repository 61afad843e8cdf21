# expect: R2
# An arq job (listed in WorkerSettings.functions) that calls an API inside its session.
from _support import Job, get_background_session
from sqlalchemy import update


async def sync_status(ctx: dict, job_id: int) -> None:
    async with get_background_session() as session:
        response = await ctx["http_client"].get(f"https://status.test/{job_id}")
        await session.execute(update(Job).where(Job.id == job_id).values(status=response.text))


class WorkerSettings:
    functions = [sync_status]
