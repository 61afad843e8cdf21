"""What one client may ask: a request rate (429 with Retry-After) and a body size (413), both from settings.

The limits are the factory's, the same in both variants, so they are tested on one.
"""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import URL

from playbook.app.factory import create_app
from playbook.app.limits import RateLimiter
from playbook.app.settings import Settings
from playbook.harness.server import RunningApp, serve_in_process

KEY_A, KEY_B = "limits-key-aaaaaaaaaaaa", "limits-key-bbbbbbbbbbbb"
UNKNOWN_JOB = "/api/v3/jobs/00000000-0000-4000-8000-000000000000"
BATCHES = "/api/v3/batches"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_one_request_per_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=2, burst=3, clock=clock)

    assert [limiter.wait_needed("a") for _ in range(4)] == [0, 0, 0, 0.5]
    assert limiter.wait_needed("b") == 0, "another client has a bucket of its own"
    clock.now += 0.5
    assert limiter.wait_needed("a") == 0
    assert limiter.wait_needed("a") == 0.5


def test_idle_clients_are_forgotten_only_once_their_bucket_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("playbook.app.limits.MAX_TRACKED_CLIENTS", 2)
    clock = FakeClock()
    limiter = RateLimiter(per_second=1, burst=2, clock=clock)
    limiter.wait_needed("b")
    clock.now += 1
    limiter.wait_needed("a")
    limiter.wait_needed("a")
    # b has been idle a whole refill (2 s): its bucket is full again; a's, idle 1.5 s, is not.
    clock.now += 1.5
    limiter.wait_needed("c")

    # A third client past the limit of two: b is forgotten, a's state is kept.
    assert set(limiter._buckets) == {"a", "c"}
    assert limiter.wait_needed("a") == 0
    assert limiter.wait_needed("a") == pytest.approx(0.5)


@pytest.fixture
async def limited(database_url: URL, settings: Settings) -> AsyncIterator[RunningApp]:
    # One request per 1,000 s once the burst is spent: nothing refills while a test runs.
    limits = {"api_keys": [KEY_A, KEY_B], "rate_limit_per_second": 0.001, "rate_limit_burst": 3, "max_body_bytes": 200}
    app = create_app("standardized", database_url=database_url, settings=settings.model_copy(update=limits))
    async with serve_in_process(app) as running:
        yield running


async def statuses(app: RunningApp, count: int, *, key: str | None = None) -> list[int]:
    headers = {"x-api-key": key} if key else {}
    return [(await app.client.get(UNKNOWN_JOB, headers=headers)).status_code for _ in range(count)]


async def test_a_client_past_its_burst_gets_429_with_retry_after(limited: RunningApp) -> None:
    assert await statuses(limited, 3, key=KEY_A) == [404, 404, 404]
    refused = await limited.client.get(UNKNOWN_JOB, headers={"x-api-key": KEY_A})

    assert refused.status_code == 429
    # 1,000 s for the next token, less the moments the three requests took.
    retry_after = int(refused.headers["retry-after"])
    assert 990 <= retry_after <= 1000
    assert refused.json() == {"detail": f"too many requests from this client: retry in {retry_after} s"}


async def test_each_key_and_each_keyless_address_has_its_own_limit(limited: RunningApp) -> None:
    await statuses(limited, 4, key=KEY_A)

    assert await statuses(limited, 3, key=KEY_B) == [404, 404, 404]
    # Without a valid key the client is its address: guessing keys is limited as well.
    assert await statuses(limited, 4, key="not-a-key-at-all-0000") == [401, 401, 401, 429]


async def test_health_and_the_schema_are_never_rate_limited(limited: RunningApp) -> None:
    await statuses(limited, 4, key=KEY_A)
    await statuses(limited, 4)

    assert [(await limited.client.get("/health")).status_code for _ in range(10)] == [200] * 10
    assert (await limited.client.get("/openapi.json")).status_code == 200


async def test_a_body_over_the_limit_gets_413_at_once_when_its_length_says_so(limited: RunningApp) -> None:
    response = await limited.client.post(BATCHES, json={"items": ["a" * 300]}, headers={"x-api-key": KEY_A})

    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 200 bytes (MAX_BODY_BYTES)"}


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(limited: RunningApp) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"items": ["'
        while sent < 100_000:
            sent += 50
            yield b"a" * 50

    # No Content-Length: the body comes in chunks, and is counted as it comes.
    response = await limited.client.post(
        BATCHES, content=endless(), headers={"x-api-key": KEY_A, "content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "request body larger than 200 bytes (MAX_BODY_BYTES)"}


async def test_a_body_within_the_limit_is_read(limited: RunningApp) -> None:
    response = await limited.client.post(BATCHES, json={"items": ["a.test"]}, headers={"x-api-key": KEY_A})

    assert response.status_code == 202
    await limited.wait_idle()
