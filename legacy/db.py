"""Sessions as the services had them: one request session, SQLAlchemy's defaults.

Shows: the session dependency most FastAPI projects start with. With the default
`expire_on_commit=True`, every commit expires loaded objects, and with the default
dependency scope the session stays open until the response and its background tasks
are done (FastAPI 0.118 and later).
Does not guarantee: that a background task can use this session; it cannot safely.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from playbook.app.database import get_engine


async def get_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(get_engine()) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
