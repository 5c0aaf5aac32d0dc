"""Start-up configuration of the simulator: command-line options with environment fallbacks."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_ACCOUNTS = "portal-demo:portal-demo-secret"

# Every field of a Filespace answer the vendor's Swagger does not require, by its path in the
# answer (Filespace requires domain, name, storage; FilespaceStorage requires provider; the
# FilespaceStats object is itself optional, and inside it only filespaceSize is required).
OPTIONAL_FIELDS = (
    "id",
    "status",
    "version",
    "subscriptionType",
    "usersCount",
    "stats",
    "storage.owner",
    "storage.region",
    "storage.endpoint",
    "storage.bucket",
    "stats.usedStorage",
    "stats.getRequestCount",
    "stats.getDataSize",
    "stats.putRequestCount",
    "stats.putDataSize",
    "stats.listRequestCount",
    "stats.deleteRequestCount",
)
# What `--omit-optional` leaves out: every optional field except the three no client can do its
# job without (an id to address the filespace, a status to know it is ready, stats to meter it).
# Those can still be left out one by one with `omit_fields` (PATCH /_sim/config).
OMIT_OPTIONAL = tuple(
    path
    for path in OPTIONAL_FIELDS
    if path not in ("id", "status") and not path.startswith("stats")
)
DOMAIN_NAME_RE = re.compile(r"^[a-z0-9-]{3,60}$")


class ConfigError(ValueError):
    """A start-up option has a value the simulator cannot use."""


@dataclass(frozen=True)
class Account:
    client_id: str
    client_secret: str = field(repr=False)
    domain_name: str | None = None


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8001
    state: str = "var/lucidsim.sqlite3"
    provisioning_delay: float = 60.0
    token_ttl: int = 3600
    seed: int = 42
    accounts: tuple[Account, ...] = ()
    verbose: bool = False
    clock_ms: int | None = None  # Start the clock at this instant (epoch ms) instead of now.
    omit_fields: tuple[str, ...] = ()


def parse_accounts(raw: str) -> tuple[Account, ...]:
    """Parse ``client_id:client_secret[:domain_name]`` pairs separated by commas."""
    accounts: list[Account] = []
    seen: set[str] = set()
    for index, chunk in enumerate(raw.split(","), start=1):
        chunk = chunk.strip()
        if not chunk:
            continue
        parts = chunk.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise ConfigError(
                f"accounts entry {index} must be client_id:client_secret[:domain_name]."
            )
        client_id, secret = parts[0], parts[1]
        domain = parts[2] if len(parts) == 3 and parts[2] else None
        if domain is not None and not DOMAIN_NAME_RE.fullmatch(domain):
            raise ConfigError(f"accounts entry {index}: domain name {domain!r} is not valid.")
        if client_id in seen:
            raise ConfigError(f"accounts entry {index}: client id {client_id!r} is repeated.")
        seen.add(client_id)
        accounts.append(Account(client_id, secret, domain))
    if not accounts:
        raise ConfigError("at least one account is required.")
    return tuple(accounts)


def _number(name: str, raw: str, kind: type, minimum: float) -> float | int:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum or value != value:  # The second test rejects NaN.
        raise ConfigError(f"{name} must be at least {minimum}.")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lucidsim",
        description="LucidLink Service API simulator (HTTP server).",
    )
    env = os.environ.get
    parser.add_argument("--host", default=env("LUCIDSIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", default=env("LUCIDSIM_PORT", "8001"))
    parser.add_argument("--state", default=env("LUCIDSIM_STATE", "var/lucidsim.sqlite3"))
    parser.add_argument(
        "--provisioning-delay", default=env("LUCIDSIM_PROVISIONING_DELAY", "60"), metavar="SECONDS"
    )
    parser.add_argument("--token-ttl", default=env("LUCIDSIM_TOKEN_TTL", "3600"), metavar="SECONDS")
    parser.add_argument("--seed", default=env("LUCIDSIM_SEED", "42"))
    parser.add_argument("--accounts", default=env("LUCIDSIM_ACCOUNTS", DEFAULT_ACCOUNTS))
    parser.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    parser.add_argument(
        "--clock",
        default=env("LUCIDSIM_CLOCK", ""),
        metavar="ISO-8601",
        help="start a new state's clock at this UTC instant (e.g. 2026-11-30T23:59:59Z)",
    )
    parser.add_argument(
        "--omit-optional",
        action="store_true",
        default=env("LUCIDSIM_OMIT_OPTIONAL", "").lower() in ("1", "true", "yes", "on"),
        help="leave every optional field (but id, status, stats) out of filespace answers",
    )
    return parser


def parse_clock(raw: str) -> int | None:
    """Epoch milliseconds of an ISO-8601 instant with a UTC offset, or None when empty."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"clock must be an ISO-8601 instant, not {raw!r}.") from None
    if moment.tzinfo is None:
        raise ConfigError("clock must name its UTC offset (end it with Z or +00:00).")
    return int(moment.timestamp() * 1000)


def load_config(argv: list[str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    port = int(_number("port", args.port, int, 0))
    if port > 65535:
        raise ConfigError("port must be at most 65535.")
    if not args.state:
        raise ConfigError("state must be a file path (or :memory:).")
    return Config(
        host=args.host,
        port=port,
        state=args.state,
        provisioning_delay=float(_number("provisioning delay", args.provisioning_delay, float, 0)),
        token_ttl=int(_number("token ttl", args.token_ttl, int, 1)),
        seed=int(_number("seed", args.seed, int, -(2**63))),
        accounts=parse_accounts(args.accounts),
        verbose=args.verbose,
        clock_ms=parse_clock(args.clock),
        omit_fields=OMIT_OPTIONAL if args.omit_optional else (),
    )


def check_omit_fields(value: object) -> tuple[str, ...]:
    """A list of optional field paths (see OPTIONAL_FIELDS); ConfigError names a bad one."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("omit_fields must be a list of field paths.")
    unknown = sorted(set(value) - set(OPTIONAL_FIELDS))
    if unknown:
        raise ConfigError(
            f"omit_fields can only name optional fields ({', '.join(OPTIONAL_FIELDS)}), "
            f"not {', '.join(unknown)}."
        )
    return tuple(dict.fromkeys(value))
