"""The MSP's single LucidLink domain: found once through the API, then cached.

Every filespace is created inside the account's one domain (the API allows one per account), by
the domain's id. Looking it up on every create would double the calls, so the answer is kept in
Django's cache, keyed by the API URL and client id so two accounts or environments never mix.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.core.cache import cache

from provisioning import lucidlink
from provisioning.lucidlink import Domain, LucidLinkClient, LucidLinkError

log = logging.getLogger(__name__)

# Reference: README section 1 "Validation": domain names are ^[a-z0-9-]{3,60}$, globally unique.
DOMAIN_NAME = re.compile(r"[a-z0-9-]{3,60}")
CACHE_SECONDS = 3600
CREATE_HINT = "python manage.py lucidlink_domain --create NAME"


class DomainMissing(LucidLinkError):
    """The account has no domain yet: staff create it once, with the management command."""


class DomainAmbiguous(LucidLinkError):
    """The account lists more than one domain, which the contract says cannot happen."""


class InvalidDomainName(LucidLinkError, ValueError):
    """The name breaks ^[a-z0-9-]{3,60}$; checked before anything is sent."""


def _cache_key(client: LucidLinkClient) -> str:
    # Hashed so any URL fits every cache backend's key rules.
    identity = f"{client.api_url}\n{client.client_id}".encode()
    return "lucidlink:msp-domain:" + hashlib.sha256(identity).hexdigest()[:40]


def _remember(client: LucidLinkClient, domain: Domain) -> None:
    # The cache only saves calls: when it is down the API is asked every time instead.
    try:
        cache.set(_cache_key(client), {"id": domain.id, "name": domain.name}, CACHE_SECONDS)
    except Exception:
        log.warning("Could not cache the LucidLink domain; continuing without the cache.")


def _recall(client: LucidLinkClient) -> Domain | None:
    try:
        cached = cache.get(_cache_key(client))
    except Exception:
        log.warning("Could not read the cached LucidLink domain; asking the API.")
        return None
    if isinstance(cached, dict) and isinstance(cached.get("id"), str):
        return Domain(id=cached["id"], name=str(cached.get("name", "")))
    return None


def msp_domain(*, client: LucidLinkClient | None = None) -> Domain:
    """The account's one domain (cached); DomainMissing when staff have not created it yet."""
    client = client or lucidlink.get_client()
    cached = _recall(client)
    if cached is not None:
        return cached
    # Reference: README section 1, operationId getDomains; "domain" in a create is this id.
    domains = client.list_domains()
    if not domains:
        raise DomainMissing(
            f"The LucidLink account has no domain yet. Create it once with: {CREATE_HINT}"
        )
    if len(domains) > 1:
        names = ", ".join(sorted(domain.name for domain in domains))
        raise DomainAmbiguous(f"The LucidLink account lists several domains ({names}).")
    if domains[0].id is None:
        # The Swagger marks a Domain's id optional, but a create names the domain by its id.
        raise DomainMissing(
            f"LucidLink listed the domain {domains[0].name} without its id, so no filespace can "
            "be created in it yet."
        )
    _remember(client, domains[0])
    return domains[0]


def msp_domain_forget(*, client: LucidLinkClient | None = None) -> None:
    """Drop the cached domain (after it was replaced, and between simulator tests)."""
    client = client or lucidlink.get_client()
    try:
        cache.delete(_cache_key(client))
    except Exception:
        log.warning("Could not drop the cached LucidLink domain.")


def domain_create(*, name: str, client: LucidLinkClient | None = None) -> Domain:
    """Create the account's domain; the name is checked here before anything is sent."""
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name):
        raise InvalidDomainName(
            f"{name!r} is not a valid domain name: use 3 to 60 lowercase letters, digits "
            "or hyphens."
        )
    client = client or lucidlink.get_client()
    # Reference: README section 1, operationId createDomain; 409 when taken or one exists.
    domain = client.create_domain(name)
    log.info("Created LucidLink domain %s (%s).", domain.name, domain.id)
    _remember(client, domain)
    return domain
