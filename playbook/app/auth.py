"""Who is calling: API keys, the owner each key stands for, and open mode.

With `API_KEYS` set (comma-separated), every `/api/` request sends one of them as
`X-API-Key`; a missing or unknown key gets 401. A job belongs to the key that created it:
the owner stored with it is a digest of the key, never the key. Reading another owner's
job gets 404, the answer for a job that does not exist, so ids reveal nothing.

With `API_KEYS` unset the API runs open, for local use: every client is the one owner
`OPEN_OWNER`, a warning is logged at startup, `/health` says `"auth": "open"`, and
`python -m playbook serve` refuses to listen on anything but loopback (`check_listen_address`).

To plug in real authentication (OAuth2 bearer tokens, mTLS at a proxy, ...), give
`require_owner` another body that returns a stable id of the caller, at most 64
characters: jobs, results and the rate limit only ever see that id.
Does not guarantee: keys kept secret in transit (serve behind TLS), rotation or scopes.
"""

import hashlib
import ipaddress
import logging
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from playbook.app.models import OPEN_OWNER
from playbook.app.settings import Settings

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
PROTECTED_PREFIX = "/api/"


def owner_of(key: str) -> str:
    """The id stored as the owner of what `key` creates: a digest, so the database holds no key."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:32]


class ApiKeys:
    """The configured keys, or open mode when there are none."""

    def __init__(self, keys: list[str]) -> None:
        # Looked up by digest: comparing digests leaks nothing usable about a key's characters.
        self._owners = {owner_of(key) for key in keys}

    @property
    def open(self) -> bool:
        return not self._owners

    def owner_for(self, presented: str | None) -> str | None:
        """The owner `presented` stands for; `OPEN_OWNER` in open mode; None for a missing or unknown key."""
        if self.open:
            return OPEN_OWNER
        if presented is None:
            return None
        owner = owner_of(presented)
        return owner if owner in self._owners else None


def api_keys_of(settings: Settings) -> ApiKeys:
    keys = ApiKeys(settings.api_keys)
    if keys.open:
        logger.warning("API_KEYS is unset: the API runs open, for local use only; every client is the same owner")
    return keys


def require_owner(request: Request) -> str:
    """The owner of the calling client; 401 without a valid key (when keys are configured)."""
    keys: ApiKeys = request.app.state.api_keys
    presented = request.headers.get(API_KEY_HEADER)
    owner = keys.owner_for(presented)
    if owner is None:
        problem = f"no {API_KEY_HEADER} header" if presented is None else f"the {API_KEY_HEADER} is not a known key"
        raise HTTPException(
            status_code=401, detail=f"{problem}: send one of the API keys", headers={"WWW-Authenticate": "APIKey"}
        )
    return owner


OwnerDep = Annotated[str, Depends(require_owner)]


def document_api_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the X-API-Key security scheme to an OpenAPI schema, required by every /api/ operation."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
    for path, operations in schema["paths"].items():
        if path.startswith(PROTECTED_PREFIX):
            for operation in operations.values():
                operation["security"] = [{"ApiKey": []}]
    return schema


class OpenModeExposed(ValueError):
    """Open mode asked to listen where other machines can reach it."""


def check_listen_address(host: str, settings: Settings) -> None:
    """Raise `OpenModeExposed` if the API would run without keys on an address other than loopback."""
    if settings.api_keys or host == "localhost" or _is_loopback(host):
        return
    raise OpenModeExposed(
        f"refusing to listen on {host}: API_KEYS is unset, so anyone who can reach it could use the API;"
        " set API_KEYS or listen on 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
