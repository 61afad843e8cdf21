# expect: R2
# An arq job (listed in WorkerSettings.functions) that reads its row, then calls an API in the same transaction.
import httpx
from _support import Job, get_background_session


async def sync_status(ctx: dict, job_id: int) -> None:
    client: httpx.AsyncClient = ctx["http_client"]
    async with get_background_session() as session:
        job = await session.get(Job, job_id)
        response = await client.get(f"https://status.test/{job.id}")
        job.status = response.text


class WorkerSettings:
    functions = [sync_status]
