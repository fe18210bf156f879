"""How an address is counted by every per-address limit (connections, logins, registrations):
as IRC servers count it, an IPv4 address alone and an IPv6 address by its /64, since one home
or one cloud machine gets a /64 and may hold any address in it."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

# Addresses whose group is remembered: parsing one costs ~10 us, a tenth of what a join storm's
# connection costs the loop, and a storm comes from few addresses. An LRU bounds what many
# addresses (an IPv6 /64's worth) can make it hold.
GROUPS_REMEMBERED = 4096


@lru_cache(maxsize=GROUPS_REMEMBERED)
def group(host: str) -> str:
    """The key an address is counted under: itself for IPv4, its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host  # a Unix socket or a name: counted as it is
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)
