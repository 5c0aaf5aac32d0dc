"""The contract's validation rules for a filespace order, in one place.

The order form (web issue) and `order_place` both call these, so a customer sees the same words
whether the form or the service catches a mistake. Every message says what to do about it.

Reference: docs/lucidlink-contract.md, "Validation".
"""

import re

from django.core.exceptions import ValidationError

# Reference: "Validation", Providers [V].
PROVIDERS: tuple[str, ...] = (
    "Azure", "AWS", "AWSGovCloud", "Alibaba", "GCP", "Zadara", "Cloudian", "DigitalOcean",
    "Wasabi", "Scality", "Telefonica", "Exoscale", "Nutanix", "Pure", "Dell", "IBM", "Other",
)  # fmt: skip
# Reference: "Validation", endpoint only for Zadara, Cloudian and Other [V].
ENDPOINT_PROVIDERS: frozenset[str] = frozenset({"Zadara", "Cloudian", "Other"})
# Reference: "Validation", Regions [D]: the providers' own public region codes. A provider
# missing here takes any non-empty region.
REGIONS: dict[str, tuple[str, ...]] = {
    "AWS": (
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1",
        "eu-west-2", "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
        "sa-east-1",
    ),
    "Wasabi": (
        "us-east-1", "us-east-2", "us-central-1", "us-west-1", "ca-central-1", "eu-central-1",
        "eu-central-2", "eu-west-1", "eu-west-2", "ap-northeast-1", "ap-northeast-2",
        "ap-southeast-1", "ap-southeast-2",
    ),
    "IBM": ("us-south", "us-east", "eu-gb", "eu-de", "jp-tok", "au-syd"),
    "Azure": (
        "eastus", "eastus2", "westus2", "westeurope", "northeurope", "uksouth", "southeastasia",
        "australiaeast",
    ),
    "GCP": ("us-central1", "us-east1", "us-west1", "europe-west1", "europe-west2", "asia-east1"),
}  # fmt: skip

# Where each region code is, in the provider's own words, for people choosing one. The codes
# stay the values the contract and LucidLink take; a code missing here is shown as it is.
REGION_NAMES: dict[str, dict[str, str]] = {
    "AWS": {
        "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
        "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
        "ca-central-1": "Canada (Central)", "eu-west-1": "Europe (Ireland)",
        "eu-west-2": "Europe (London)", "eu-central-1": "Europe (Frankfurt)",
        "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
        "ap-northeast-1": "Asia Pacific (Tokyo)", "sa-east-1": "South America (São Paulo)",
    },
    "Wasabi": {
        "us-east-1": "US East 1 (N. Virginia)", "us-east-2": "US East 2 (N. Virginia)",
        "us-central-1": "US Central 1 (Texas)", "us-west-1": "US West 1 (Oregon)",
        "ca-central-1": "CA Central 1 (Toronto)", "eu-central-1": "EU Central 1 (Amsterdam)",
        "eu-central-2": "EU Central 2 (Frankfurt)", "eu-west-1": "EU West 1 (London)",
        "eu-west-2": "EU West 2 (Paris)", "ap-northeast-1": "AP Northeast 1 (Tokyo)",
        "ap-northeast-2": "AP Northeast 2 (Osaka)", "ap-southeast-1": "AP Southeast 1 (Singapore)",
        "ap-southeast-2": "AP Southeast 2 (Sydney)",
    },
    "IBM": {
        "us-south": "Dallas", "us-east": "Washington DC", "eu-gb": "London",
        "eu-de": "Frankfurt", "jp-tok": "Tokyo", "au-syd": "Sydney",
    },
    "Azure": {
        "eastus": "East US (Virginia)", "eastus2": "East US 2 (Virginia)",
        "westus2": "West US 2 (Washington)", "westeurope": "West Europe (Netherlands)",
        "northeurope": "North Europe (Ireland)", "uksouth": "UK South (London)",
        "southeastasia": "Southeast Asia (Singapore)", "australiaeast": "Australia East (Sydney)",
    },
    "GCP": {
        "us-central1": "Iowa", "us-east1": "South Carolina", "us-west1": "Oregon",
        "europe-west1": "Belgium", "europe-west2": "London", "asia-east1": "Taiwan",
    },
}  # fmt: skip

NAME_MIN = 2
NAME_MAX = 63
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_BUCKET_RE = re.compile(r"^[a-z0-9.-]{3,63}$")
_ENDPOINT_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?/?$")


def remote_name_for(*, prefix: str, name: str) -> str:
    """The filespace name sent to LucidLink: the customer's prefix, a hyphen, their name."""
    return f"{prefix}-{name}"


def qualified_name_for(*, prefix: str, name: str, domain_name: str) -> str:
    """`<prefix>-<name>.<domain>`: what the customer will pass to `lucid --fs`."""
    return f"{remote_name_for(prefix=prefix, name=name)}.{domain_name}"


def max_name_length(*, prefix: str) -> int:
    return NAME_MAX - len(prefix) - 1


def validate_filespace_name(*, prefix: str, name: str) -> str:
    """Return the remote name for the customer's part `name`, or raise ValidationError."""
    if not name:
        raise ValidationError("Enter a name for the filespace.", code="required")
    if name != name.strip():
        raise ValidationError("Remove the spaces around the name.", code="spaces")
    if name != name.lower() and re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ValidationError(
            "Use lowercase letters only, for example %(suggestion)s.",
            code="uppercase",
            params={"suggestion": name.lower()},
        )
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValidationError(
            "Use only lowercase letters, digits and hyphens (no spaces, dots or underscores).",
            code="characters",
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError("The name cannot start or end with a hyphen.", code="hyphen")
    limit = max_name_length(prefix=prefix)
    if len(name) < NAME_MIN:
        raise ValidationError(
            "Use at least %(min)d characters.", code="too_short", params={"min": NAME_MIN}
        )
    if len(name) > limit:
        raise ValidationError(
            "Use at most %(max)d characters (your organisation's prefix %(prefix)s- takes "
            "the rest of LucidLink's 63).",
            code="too_long",
            params={"max": limit, "prefix": prefix},
        )
    remote = remote_name_for(prefix=prefix, name=name)
    if not _NAME_RE.fullmatch(remote):
        # Only a malformed prefix set by staff can get here; the customer cannot fix it.
        raise ValidationError(
            "Your organisation's name prefix is not valid for LucidLink; contact support.",
            code="bad_prefix",
        )
    return remote


def validate_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValidationError(
            "Choose one of the storage providers: %(providers)s.",
            code="invalid_provider",
            params={"providers": ", ".join(PROVIDERS)},
        )


def region_label(*, provider: str, region: str) -> str:
    """Where a region is, with the code the provider uses: "Frankfurt (eu-de)"."""
    name = REGION_NAMES.get(provider, {}).get(region)
    return f"{name} ({region})" if name else region


def regions_for(provider: str) -> tuple[str, ...]:
    """The region codes a provider offers; empty when the provider takes any region."""
    return REGIONS.get(provider, ())


def validate_region(*, provider: str, region: str, allowed: list[str] | None = None) -> None:
    """The region must be in the plan's list when it has one, else in the provider's list."""
    if not region:
        raise ValidationError("Choose a region.", code="required")
    choices = tuple(allowed or ()) or regions_for(provider)
    if choices and region not in choices:
        raise ValidationError(
            "Choose one of the regions offered for %(provider)s: %(regions)s.",
            code="invalid_region",
            params={"provider": provider, "regions": ", ".join(choices)},
        )
    if not choices and (len(region) > 64 or not re.fullmatch(r"[A-Za-z0-9_.-]+", region)):
        raise ValidationError(
            "Enter the region code your storage provider uses, for example us-east-1.",
            code="invalid_region",
        )


def validate_endpoint(*, provider: str, endpoint: str | None) -> None:
    if not endpoint:
        return
    if provider not in ENDPOINT_PROVIDERS:
        raise ValidationError(
            "A custom endpoint is only possible with %(providers)s; leave it empty for "
            "%(provider)s.",
            code="endpoint_not_allowed",
            params={"providers": ", ".join(sorted(ENDPOINT_PROVIDERS)), "provider": provider},
        )
    if not _ENDPOINT_RE.fullmatch(endpoint):
        raise ValidationError(
            "Enter the endpoint as https://host or https://host:port.", code="invalid_endpoint"
        )


def validate_bucket(bucket: str) -> None:
    if not _BUCKET_RE.fullmatch(bucket or ""):
        raise ValidationError(
            "Use 3 to 63 lowercase letters, digits, dots or hyphens for the bucket name.",
            code="invalid_bucket",
        )


# Public S3 endpoints of providers that take no custom endpoint. Reference: section 3,
# init-s3 --endpoint <host[:port]>; the hosts are the providers' documented S3 endpoints.
PUBLIC_S3_ENDPOINTS = {
    "AWS": "s3.{region}.amazonaws.com",
    "AWSGovCloud": "s3.{region}.amazonaws.com",
    "Wasabi": "s3.{region}.wasabisys.com",
    "IBM": "s3.{region}.cloud-object-storage.appdomain.cloud",
    "GCP": "storage.googleapis.com",
    "DigitalOcean": "{region}.digitaloceanspaces.com",
    "Exoscale": "sos-{region}.exo.io",
}


# Reference: section 3, init-s3 `--block-size <KiB>`: fixed at initialization, default 256 KiB
# [V]; the allowed values are unpublished, so the portal offers these [D] (lucidsim refuses others).
BLOCK_SIZES_KIB: tuple[int, ...] = (64, 128, 256, 512, 1024)
DEFAULT_BLOCK_SIZE_KIB = 256


def validate_block_size(value) -> int:
    """The block size in KiB as an int, or a ValidationError naming the sizes offered."""
    sizes = ", ".join(map(str, BLOCK_SIZES_KIB))
    message = f"Choose a block size of {sizes} KiB."
    if isinstance(value, bool):
        raise ValidationError(message, code="block_size")
    try:
        size = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(message, code="block_size") from None
    if size not in BLOCK_SIZES_KIB:
        raise ValidationError(message, code="block_size")
    return size
