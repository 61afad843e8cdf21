"""Ownership: API keys from API_KEYS, jobs and results owned by the key that created them, open mode.

Both variants serve the same contract: 401 without a valid key, 404 for another key's job
(existence is not revealed), and results never shared across owners.
"""

import subprocess
import sys
import uuid
from collections import Counter

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from playbook.app.auth import OpenModeExposed, check_listen_address, owner_of
from playbook.app.models import OPEN_OWNER, Contact, Job
from playbook.app.settings import Settings
from playbook.harness.server import RunningApp
from playbook.helpers import child_env
from tests.helpers import KEY_A, KEY_B, count_rows

A, B = {"x-api-key": KEY_A}, {"x-api-key": KEY_B}
BATCHES = "/api/v3/batches"
EMAILS = "/api/v3/email-scraper/scan"


async def test_a_request_without_a_valid_key_gets_401_and_writes_nothing(
    keyed_app: RunningApp, read_engine: AsyncEngine
) -> None:
    jobs_before = await count_rows(read_engine, Job)
    missing = await keyed_app.client.post(BATCHES, json={"items": ["a.test"]})
    wrong = await keyed_app.client.post(
        BATCHES, json={"items": ["a.test"]}, headers={"x-api-key": "guessed-key-00000000"}
    )
    read = await keyed_app.client.get(f"/api/v3/jobs/{uuid.uuid4()}")

    assert (missing.status_code, wrong.status_code, read.status_code) == (401, 401, 401)
    assert missing.json() == {"detail": "no X-API-Key header: send one of the API keys"}
    assert wrong.json() == {"detail": "the X-API-Key is not a known key: send one of the API keys"}
    assert missing.headers["www-authenticate"] == "APIKey"
    assert await count_rows(read_engine, Job) == jobs_before


async def test_a_job_belongs_to_the_key_that_created_it(keyed_app: RunningApp, read_engine: AsyncEngine) -> None:
    accepted = await keyed_app.client.post(BATCHES, json={"items": ["owned.test"]}, headers=A)
    assert accepted.status_code == 202
    job_id = accepted.json()["id"]
    await keyed_app.wait_idle()

    for suffix in ("", "/results"):
        mine = await keyed_app.client.get(f"/api/v3/jobs/{job_id}{suffix}", headers=A)
        theirs = await keyed_app.client.get(f"/api/v3/jobs/{job_id}{suffix}", headers=B)
        nobody = await keyed_app.client.get(f"/api/v3/jobs/{uuid.uuid4()}{suffix}", headers=B)
        assert mine.status_code == 200
        # The same answer as for a job that does not exist: ids reveal nothing.
        assert (theirs.status_code, nobody.status_code) == (404, 404)
        assert theirs.json() == {"detail": f"job {job_id} not found"}
    async with AsyncSession(read_engine) as session:
        owner = await session.scalar(select(Job.owner).where(Job.id == uuid.UUID(job_id)))
    assert owner == owner_of(KEY_A)
    assert KEY_A not in owner, "the key itself is never stored"


# Standardized only: legacy's scan never reaches its storage step (F4, F5; tests/test_email_scraper.py).
@pytest.mark.standardized
@pytest.mark.parametrize("variant", ["standardized"], indirect=True)
async def test_contacts_found_for_one_owner_are_never_shown_to_another(
    keyed_app: RunningApp, read_engine: AsyncEngine
) -> None:
    host = "shared-owners.test"
    first = (await keyed_app.client.post(EMAILS, json={"domain": host}, headers=A)).json()["id"]
    await keyed_app.wait_idle()
    second = (await keyed_app.client.post(EMAILS, json={"domain": host}, headers=B)).json()["id"]
    await keyed_app.wait_idle()
    async with AsyncSession(read_engine) as session, session.begin():
        stored = Counter(
            (await session.execute(select(Contact.owner, Contact.job_id).where(Contact.domain == host))).all()
        )
        # B's addresses go; A's stay: B must not be shown A's.
        await session.execute(delete(Contact).where(Contact.owner == owner_of(KEY_B)))
    a_results = await keyed_app.client.get(f"/api/v3/jobs/{first}/results", headers=A)
    b_results = await keyed_app.client.get(f"/api/v3/jobs/{second}/results", headers=B)

    # Each owner's scan stored the site's seven addresses for that owner.
    assert stored == {(owner_of(KEY_A), uuid.UUID(first)): 7, (owner_of(KEY_B), uuid.UUID(second)): 7}
    assert len(a_results.json()["contacts"]) == 7
    assert b_results.json()["contacts"] == []


async def test_with_keys_health_says_so_and_the_schema_documents_the_key(keyed_app: RunningApp) -> None:
    assert (await keyed_app.client.get("/health")).json()["auth"] == "api-keys"
    schema = (await keyed_app.client.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"] == {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    assert schema["paths"][BATCHES]["post"]["security"] == [{"ApiKey": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


async def test_without_keys_health_says_open_and_the_schema_asks_for_no_key(app: RunningApp) -> None:
    assert (await app.client.get("/health")).json()["auth"] == "open"
    schema = (await app.client.get("/openapi.json")).json()

    assert "securitySchemes" not in schema.get("components", {})
    assert "security" not in schema["paths"][BATCHES]["post"]


async def test_open_mode_makes_every_client_one_owner(app: RunningApp, read_engine: AsyncEngine) -> None:
    accepted = await app.client.post(BATCHES, json={"items": ["open.test"]})
    await app.wait_idle()

    async with AsyncSession(read_engine) as session:
        assert await session.scalar(select(Job.owner).where(Job.id == uuid.UUID(accepted.json()["id"]))) == OPEN_OWNER
    assert (await app.client.get(f"/api/v3/jobs/{accepted.json()['id']}", headers=B)).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_open_mode_listens_on_loopback(host: str) -> None:
    check_listen_address(host, Settings(api_keys=[]))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_open_mode_refuses_any_other_address_unless_keys_are_set(host: str) -> None:
    with pytest.raises(OpenModeExposed, match=f"refusing to listen on {host}: API_KEYS is unset"):
        check_listen_address(host, Settings(api_keys=[]))
    check_listen_address(host, Settings(api_keys=[KEY_A]))


def test_serve_exits_before_listening_in_open_mode_on_all_interfaces() -> None:
    serve = subprocess.run(
        [sys.executable, "-m", "playbook", "serve", "--host", "0.0.0.0", "--port", "9"],
        env=child_env(API_KEYS=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 2
    assert "serve: refusing to listen on 0.0.0.0: API_KEYS is unset" in serve.stderr


def test_api_keys_are_read_comma_separated_and_must_be_long() -> None:
    assert Settings(api_keys=f" {KEY_A}, ,{KEY_B} ").api_keys == [KEY_A, KEY_B]
    with pytest.raises(ValueError, match="at least 16 printable ASCII characters"):
        Settings(api_keys="short")
