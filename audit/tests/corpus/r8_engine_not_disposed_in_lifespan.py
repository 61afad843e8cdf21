# expect: R8
# The lifespan creates the engine but never disposes it: "Event loop is closed" at exit (F6).
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine


@asynccontextmanager
async def lifespan(app: FastAPI):
    engine = create_async_engine("postgresql+asyncpg://localhost/app")
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield


app = FastAPI(lifespan=lifespan)
