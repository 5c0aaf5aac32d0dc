"""Input rules for the Service API bodies. Each failure names its reason for the debug header."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

DOMAIN_NAME_RE = re.compile(r"^[a-z0-9-]{3,60}$")
# Vendor: lowercase letters, digits, hyphens, at least 2 characters. The cap at 63 and the ban
# on a leading or trailing hyphen are the simulator's decision.
FILESPACE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$")
BUCKET_RE = re.compile(r"^[a-z0-9.-]{3,63}$")
PROVIDERS = (
    "Azure",
    "AWS",
    "AWSGovCloud",
    "Alibaba",
    "GCP",
    "Zadara",
    "Cloudian",
    "DigitalOcean",
    "Wasabi",
    "Scality",
    "Telefonica",
    "Exoscale",
    "Nutanix",
    "Pure",
    "Dell",
    "IBM",
    "Other",
)
ENDPOINT_PROVIDERS = ("Zadara", "Cloudian", "Other")
SUBSCRIPTION_RULES = {
    # subscriptionType: (required provider or None for any, storage owner)
    "basic": ("Wasabi", "lucidlink"),
    "teams": ("IBM", "lucidlink"),
    "enterprise": ("IBM", "lucidlink"),
    "custom": (None, "customer"),
}
REGIONS = {
    "AWS": [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "sa-east-1",
    ],
    "Wasabi": [
        "us-east-1",
        "us-east-2",
        "us-central-1",
        "us-west-1",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-southeast-2",
    ],
    "IBM": ["us-south", "us-east", "eu-gb", "eu-de", "jp-tok", "au-syd"],
    "Azure": [
        "eastus",
        "eastus2",
        "westus2",
        "westeurope",
        "northeurope",
        "uksouth",
        "southeastasia",
        "australiaeast",
    ],
    "GCP": ["us-central1", "us-east1", "us-west1", "europe-west1", "europe-west2", "asia-east1"],
}


class Invalid(ValueError):
    """The body breaks a rule; ``reason`` says which (sent only in a debug header)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def domain_name(body: object) -> str:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str):
        raise Invalid("name must be a string")
    if not DOMAIN_NAME_RE.fullmatch(name):
        raise Invalid("name must be 3-60 lowercase letters, digits or hyphens")
    return name


def _string(container: dict, key: str, where: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{where}{key} must be a string")
    return value


def filespace_create(body: object) -> dict:
    """Check a create body and return the normalised fields (unknown keys dropped)."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    domain = _string(body, "domain", "")
    if not domain:
        raise Invalid("domain (the domain id) is required")
    name = _string(body, "name", "")
    if name is None or not FILESPACE_NAME_RE.fullmatch(name):
        raise Invalid(
            "name must be 2-63 lowercase letters, digits or hyphens, "
            "not starting or ending with a hyphen"
        )
    version = body.get("version", 3)
    if isinstance(version, bool) or not isinstance(version, int | float) or version not in (3, 4):
        raise Invalid("version must be 3 or 4")
    subscription = _string(body, "subscriptionType", "")
    subscription = "teams" if subscription is None else subscription
    if subscription == "none":
        raise Invalid("subscriptionType none only marks filespaces created before Feb 2021")
    if subscription not in SUBSCRIPTION_RULES:
        raise Invalid("subscriptionType must be custom, basic, teams or enterprise")
    storage = body.get("storage")
    if not isinstance(storage, dict):
        raise Invalid("storage must be an object")
    provider = _string(storage, "provider", "storage.")
    if provider not in PROVIDERS:
        raise Invalid("storage.provider must be one of the documented providers")
    needed_provider, owner_for_type = SUBSCRIPTION_RULES[subscription]
    owner = _string(storage, "owner", "storage.") or owner_for_type
    if owner not in ("customer", "lucidlink"):
        raise Invalid("storage.owner must be customer or lucidlink")
    if owner != owner_for_type:
        raise Invalid(f"subscriptionType {subscription} needs storage.owner {owner_for_type}")
    if needed_provider is not None and provider != needed_provider:
        raise Invalid(f"subscriptionType {subscription} needs storage.provider {needed_provider}")
    region = _string(storage, "region", "storage.")
    if not region or not region.strip():
        raise Invalid("storage.region is required")
    if provider in REGIONS and region not in REGIONS[provider]:
        raise Invalid(f"storage.region {region!r} is not a {provider} region")
    endpoint = _string(storage, "endpoint", "storage.")
    if provider in ENDPOINT_PROVIDERS:
        if not endpoint:
            raise Invalid(f"storage.endpoint is required for provider {provider}")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid("storage.endpoint must be an http(s) URL with a host")
    elif endpoint is not None:
        raise Invalid("storage.endpoint is only supported for Zadara, Cloudian and Other")
    bucket = _string(storage, "bucket", "storage.")
    if owner == "customer":
        if bucket is None or not BUCKET_RE.fullmatch(bucket):
            raise Invalid("storage.bucket must be 3-63 lowercase letters, digits, dots or hyphens")
    elif bucket is not None:
        raise Invalid("storage.bucket is only for customer-owned storage")
    clean_storage = {"owner": owner, "provider": provider, "region": region}
    if endpoint is not None:
        clean_storage["endpoint"] = endpoint
    if bucket is not None:
        clean_storage["bucket"] = bucket
    return {
        "domain": domain,
        "name": name,
        "version": int(version),
        "subscriptionType": subscription,
        "storage": clean_storage,
    }


def payment_details(body: object) -> dict:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    clean: dict = {}
    for key in ("description", "paymentSourceToken"):
        if key in body and body[key] is not None:
            if not isinstance(body[key], str):
                raise Invalid(f"{key} must be a string")
            clean[key] = body[key]
    card = body.get("card")
    if card is not None:
        if not isinstance(card, dict):
            raise Invalid("card must be an object")
        last4 = card.get("numberLast4")
        month = card.get("expiryMonth")
        year = card.get("expiryYear")
        if not isinstance(last4, str) or not re.fullmatch(r"[0-9]{4}", last4):
            raise Invalid("card.numberLast4 must be four digits")
        for key, value, low, high in (
            ("expiryMonth", month, 1, 12),
            ("expiryYear", year, 2000, 2100),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Invalid(f"card.{key} must be a number")
            if value != int(value) or not low <= value <= high:
                raise Invalid(f"card.{key} must be a whole number from {low} to {high}")
        clean["card"] = {"numberLast4": last4, "expiryMonth": int(month), "expiryYear": int(year)}
    return clean
