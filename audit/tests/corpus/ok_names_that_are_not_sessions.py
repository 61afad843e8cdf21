# expect: none
# A cache key built "with session" and a browser DevTools session are not database sessions:
# the audit knows sessions by their type, not their name.
import asyncio


def _build_key_with_session(user_id: int) -> str:
    return f"user:{user_id}:session"


class CDPSession:
    async def send(self, method: str) -> dict[str, str]:
        return {"method": method}


async def warm(user_id: int, background_tasks) -> None:
    session = _build_key_with_session(user_id)
    background_tasks.add_task(print, session)


async def screenshot(cdp_session: CDPSession) -> None:
    task = asyncio.create_task(cdp_session.send("Page.captureScreenshot"))
    await task
