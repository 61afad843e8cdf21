# expect: R1
# A Starlette BackgroundTask given as the response's `background=` is background work too;
# here it is handed the request's session.
from _support import SessionDep
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse


async def audit_trail(session: AsyncSession, job_id: int) -> None:
    await session.commit()


async def accept(job_id: int, session: SessionDep) -> JSONResponse:
    return JSONResponse({"id": job_id}, status_code=202, background=BackgroundTask(audit_trail, session, job_id))
