"""Which hosts the services may be asked to visit, and which addresses they may reach.

One rule for names, stated in the OpenAPI schema and applied as written: a domain is
already in canonical form, lowercase ASCII letters, digits and hyphens in dot-separated
labels, ending in an alphabetic top-level label; nothing is normalised. An uppercase
letter, surrounding whitespace, a trailing dot or a non-ASCII character (a Kelvin sign
that `str.lower()` would fold to `k`, say) is refused with a message, so the name a
client sent is the name the job visits. International names are sent in their A-label
form (`xn--...`).

Names that lead into the operator's own network are refused as well: reserved and
private-use suffixes (`.localhost`, `.local` and with it Kubernetes' `cluster.local`,
`.internal`, ...) and names that spell out an IPv4 address (`127.0.0.1.nip.io`).
IP literals never pass the syntax above.

Does not guarantee: that a public-looking name resolves to a public address; a name
can point anywhere. `refused_address_reason` is the check for resolved addresses, which
the outbound guard (`playbook.upstream.guard`) applies to every request it sends.
"""

import ipaddress
import re

from playbook.app.errors import preview

MAX_DOMAIN_LENGTH = 253
_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# One pattern for the schema and the validator: ECMA 262 and Python read it alike.
DOMAIN_PATTERN = rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$"

# Special-use names (RFC 6761, 6762, 8375), private-use top-level names and cluster DNS.
# `.test` is special-use too, but it reaches no one: the upstream simulator answers it.
INTERNAL_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "private",
    "corp",
    "home",
    "lan",
    "svc",
    "arpa",
    "invalid",
)
_INTERNAL_NAME = rf"(?:^|\.)(?:{'|'.join(re.escape(suffix) for suffix in INTERNAL_SUFFIXES)})$"
# 127.0.0.1.nip.io, 10-0-0-1.sslip.io: wildcard DNS services answer with the address spelled out.
_OCTET = "[0-9]{1,3}"
_SPELLED_ADDRESS = rf"(?:^|\.)(?:(?:{_OCTET}\.){{4}}|{_OCTET}-{_OCTET}-{_OCTET}-{_OCTET}\.)"

_DOMAIN = re.compile(DOMAIN_PATTERN)
_INTERNAL = re.compile(_INTERNAL_NAME)
_ADDRESS_IN_NAME = re.compile(_SPELLED_ADDRESS)

DOMAIN_JSON_SCHEMA = {
    "type": "string",
    "minLength": 4,
    "maxLength": MAX_DOMAIN_LENGTH,
    "pattern": DOMAIN_PATTERN,
    "not": {"anyOf": [{"pattern": _INTERNAL_NAME}, {"pattern": _SPELLED_ADDRESS}]},
    "description": (
        "A public host name in canonical form: lowercase ASCII letters, digits and hyphens, dot-separated, "
        "no trailing dot (international names as xn-- A-labels). Reserved and private-use names "
        f"({', '.join('.' + suffix for suffix in INTERNAL_SUFFIXES)}) and names spelling out an IPv4 address "
        "are refused."
    ),
    "examples": ["example.com"],
}


def check_domain(value: str) -> str:
    """`value` if it is a public host name in canonical form; otherwise `ValueError` saying why."""
    if not value.isascii():
        first = next(character for character in value if not character.isascii())
        raise ValueError(
            f"{preview(value)} contains U+{ord(first):04X}, which is not ASCII (send international names"
            " as xn-- A-labels)"
        )
    if len(value) > MAX_DOMAIN_LENGTH or not _DOMAIN.fullmatch(value):
        raise ValueError(
            f"{preview(value)} is not a domain name in canonical form (lowercase ASCII letters, digits, hyphens"
            " and dots, like 'example.com'; international names as xn-- A-labels)"
        )
    if _INTERNAL.search(value):
        raise ValueError(f"{preview(value)} is a reserved or private-use name, not a public site")
    if _ADDRESS_IN_NAME.search(value):
        raise ValueError(f"{preview(value)} spells out an IP address; ask for the site by its own name")
    return value


# 100.100.100.200 (Alibaba) and fd00:ec2::254 (AWS over IPv6) serve cloud metadata; 169.254.169.254
# is link-local and refused with every other non-global address.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")})


def refused_address_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the services must not connect to `address`, or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo) is judged by that one too.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None and (reason := refused_address_reason(embedded)):
            return reason
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for reason, applies in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("not a public address", not address.is_global),
    ):
        if applies:
            return reason
    return None
