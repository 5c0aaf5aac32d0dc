"""Parsing the `lucid` CLI's plain-text answers, classifying its failures, scrubbing secrets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from provisioning.cli.errors import (
    AlreadyInitialized,
    BadInput,
    CliError,
    CliOutputError,
    CliRejected,
    CliUnavailable,
    Conflict,
    FilespaceNotFound,
    NotFound,
    NotInitialized,
    OptionsRefused,
    WrongPassword,
)

REDACTED = "[redacted]"


# --- Parsed answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    state: str
    name: str
    created: str


@dataclass(frozen=True)
class ScheduleInfo:
    name: str
    interval: str
    retention: int


@dataclass(frozen=True)
class UserInfo:
    name: str
    email: str


@dataclass(frozen=True)
class ClientStatus:
    linked: bool
    filespace: str = ""
    user: str = ""


@dataclass
class Call:
    """One prepared command: its argv, what goes to stdin and which values are secret."""

    args: list[str]
    secrets: list[str] = field(default_factory=list)
    stdin: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def shown(self) -> str:
        """The command as it may appear in a log line: every secret argument replaced whole."""
        secret = set(filter(None, self.secrets))
        shown = [REDACTED if arg in secret else arg for arg in self.args]
        return scrub(" ".join(shown), self.secrets)


# Secrets shorter than this are not hunted for inside free text: replacing every "a" of a
# message would mangle it and hint at the secret. Generated passwords are 24 characters; the
# CLI refuses root passwords under 8.
MIN_SCRUB_LENGTH = 4


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by [redacted], in one pass, longest match first."""
    wanted = sorted({s for s in secrets if len(s) >= MIN_SCRUB_LENGTH}, key=len, reverse=True)
    if not wanted:
        return text
    return re.sub("|".join(map(re.escape, wanted)), REDACTED, text)


# --- Output parsing ------------------------------------------------------------------------

_SNAPSHOT_CREATED = re.compile(r"^Snapshot with ID (\d+) created\.$", re.M)
SNAPSHOT_DELETED_RE = re.compile(r"^Snapshot with ID (\d+) deleted\.$", re.M)
_USER_CREATED = re.compile(r"^User '(.+)' created successfully\.$", re.M)
USER_DELETED_RE = re.compile(r"^User '(.+)' deleted successfully\.$", re.M)
# [D] The vendor does not publish what `user --set` prints; lucidsim says "updated successfully".
USER_UPDATED_RE = re.compile(r"^User '(.+)' updated successfully\.$", re.M)
SCHEDULE_CREATED_RE = re.compile(r"^Snapshot schedule '(.+)' created successfully\.$", re.M)
SCHEDULE_DELETED_RE = re.compile(r"^Snapshot schedule '(.+)' deleted successfully\.$", re.M)
INITIALIZED_RE = re.compile(r"^Filespace '(.+)' initialized successfully\.$", re.M)
LINKED_RE = re.compile(r"^Filespace '(.+)' linked as '(.+)'\.$", re.M)
_STATUS = re.compile(r"^Client state: (Linked|Unlinked)$", re.M)
_STATUS_FS = re.compile(r"^Filespace: (\S+)$", re.M)
_STATUS_USER = re.compile(r"^User: (.+)$", re.M)
# `lucid snapshot --list`: ID  STATE  NAME  CREATED ON; names may hold single spaces, columns
# are separated by two. CREATED ON is `YYYY-MM-DD HH:MM:SS`.
_SNAPSHOT_HEADER = re.compile(r"^ID\s+STATE\s+NAME\s+CREATED ON\s*$")
_SNAPSHOT_ROW = re.compile(
    r"^(?P<id>\d+)  (?P<state>\S+)  (?P<name>.*?)  "
    r"(?P<created>\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?)\s*$"
)


def require_match(pattern: re.Pattern, output: str, what: str) -> re.Match:
    match = pattern.search(output)
    if match is None:
        raise CliOutputError(detail=f"expected {what}, got: {output.strip()[:200]!r}")
    return match


def parse_snapshot_created(output: str) -> int:
    return int(require_match(_SNAPSHOT_CREATED, output, "'Snapshot with ID n created.'").group(1))


def parse_user_created(output: str) -> str:
    return require_match(_USER_CREATED, output, "'User ... created successfully.'").group(1)


def parse_status(output: str) -> ClientStatus:
    state = require_match(_STATUS, output, "'Client state: Linked|Unlinked'").group(1)
    if state == "Unlinked":
        return ClientStatus(linked=False)
    fs = _STATUS_FS.search(output)
    user = _STATUS_USER.search(output)
    return ClientStatus(
        linked=True, filespace=fs.group(1) if fs else "", user=user.group(1).strip() if user else ""
    )


def parse_snapshot_list(output: str) -> list[SnapshotInfo]:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or not _SNAPSHOT_HEADER.match(lines[0]):
        raise CliOutputError(
            detail=f"expected the 'ID  STATE  NAME  CREATED ON' table: {output[:200]!r}"
        )
    snapshots = []
    for line in lines[1:]:
        match = _SNAPSHOT_ROW.match(line)
        if match is None:
            raise CliOutputError(detail=f"unreadable snapshot row: {line[:200]!r}")
        # Every snapshot has a name (LucidLink names unnamed ones), so "-" is a real name here.
        snapshots.append(
            SnapshotInfo(
                id=int(match["id"]),
                state=match["state"],
                name=match["name"],
                created=match["created"],
            )
        )
    return snapshots


def parse_schedule_list(output: str) -> list[ScheduleInfo]:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or not re.match(r"^NAME\s+INTERVAL\s+RETENTION\s*$", lines[0]):
        raise CliOutputError(
            detail=f"expected the 'NAME  INTERVAL  RETENTION' table: {output[:200]!r}"
        )
    schedules = []
    for line in lines[1:]:
        match = re.match(r"^(?P<name>.+?)  (?P<interval>\S+)  (?P<retention>\d+)\s*$", line)
        if match is None:
            raise CliOutputError(detail=f"unreadable schedule row: {line[:200]!r}")
        schedules.append(ScheduleInfo(match["name"], match["interval"], int(match["retention"])))
    return schedules


def parse_user_list(output: str) -> list[UserInfo]:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or not re.match(r"^USER\s+EMAIL\s*$", lines[0]):
        raise CliOutputError(detail=f"expected the 'USER  EMAIL' table: {output[:200]!r}")
    users = []
    for line in lines[1:]:
        name, _, email = line.partition("  ")
        users.append(
            UserInfo(name=name.strip(), email="" if email.strip() == "-" else email.strip())
        )
    return users


# --- Failure classification ----------------------------------------------------------------


def classify(*, returncode: int, stderr: str, stdout: str, secrets: Sequence[str]) -> CliError:
    """The typed error for a non-zero exit, with the CLI's words scrubbed of secrets."""
    text = scrub((stderr.strip() or stdout.strip()), secrets)
    said = text.removeprefix("Error: ").strip()
    lower = said.lower()
    if "usage:" in lower or (returncode == 2 and "required" in lower and "password" not in lower):
        # argparse (or the vendor CLI) refused the options: a portal bug, not the customer's.
        return OptionsRefused(
            "The LucidLink client did not accept the options the portal sent. Nothing was "
            "changed; our support team has been told.",
            detail=text,
            returncode=returncode,
        )
    if "invalid root password" in lower or "invalid user name or password" in lower:
        return WrongPassword(detail=said, returncode=returncode)
    if "cannot reach" in lower or re.search(r"answered http 5\d\d", lower) or "timed out" in lower:
        return CliUnavailable(detail=said, returncode=returncode)
    if re.search(r"filespace '[^']*' not found", lower):
        return FilespaceNotFound(detail=said, returncode=returncode)
    if "is not initialized" in lower:
        return NotInitialized(detail=said, returncode=returncode)
    if "is already initialized" in lower:
        return AlreadyInitialized(detail=said, returncode=returncode)
    if "already exists" in lower:
        return Conflict(f"{said} Choose another name.", detail=said, returncode=returncode)
    if "not found" in lower:
        return NotFound(
            f"{said} It may have been deleted already.", detail=said, returncode=returncode
        )
    if "still provisioning" in lower or "is in status" in lower or "already linked" in lower:
        return Conflict(f"{said} Try again in a few minutes.", detail=said, returncode=returncode)
    if said:
        return BadInput(
            f"LucidLink refused the request: {said}", detail=said, returncode=returncode
        )
    return CliRejected(detail=f"exit code {returncode}", returncode=returncode)


def cli_option(flag: str, value: str) -> str:
    """`--flag=value` as one argument, so a name starting with '-' is never read as an option."""
    return f"{flag}={value}"
