"""Runner for the LucidLink Client CLI (`lucid`), used for the operations the Service API lacks.

Reference: ../shared/lucidlink/README.md, section 3 ("Client CLI `lucid`"). Every call runs the
binary named by settings.LUCID_CLI_PATH in a subprocess with a timeout, parses the plain-text
answer into small dataclasses, and turns a failure into a typed error whose `message` a customer
can act on:

- `CliUnavailable`: the binary is missing, timed out, or could not reach LucidLink (transient;
  a later attempt may succeed).
- `CliRejected` and its subclasses: the CLI ran and said no (wrong root password, unknown
  filespace, name already taken, bad options). Retrying the same command cannot help.
- `CliOutputError`: the CLI said it succeeded but printed something this module cannot read.

Secrets. The contract's CLI takes the root password as `--password`, which any local user can
read in the process list. The simulator (and this runner) also accept it on stdin
(`--password-stdin`) or in the environment (`LUCID_PASSWORD`); settings.LUCID_CLI_PASSWORD_VIA
picks one, default `stdin`. Two secrets can only travel on the command line, because the CLI has
no other way to take them: a new user's `--user-password` and init-s3's `--secret-key`. Every
secret of a call is scrubbed from the command shown in logs and from every error message, so
none reaches a log line, an exception or a page even when the CLI echoes it back.

Client state. The CLI acts on the filespace the client is linked to. Each filespace gets its own
client state (for lucidsim-cli: the file named by LUCIDSIM_CLI_STATE under
settings.LUCID_CLI_STATE_DIR), so operations on two filespaces never share a link.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

REDACTED = "[redacted]"
PASSWORD_VIA = ("stdin", "env", "argv")
# The CLI's stderr carries at most this much into an error message.
_MAX_DETAIL = 300


# --- Errors ------------------------------------------------------------------------------------


class CliError(Exception):
    """A failed `lucid` call. `message` is for the customer; `detail` is the CLI's own words.

    Both are scrubbed of the call's secrets before the error is built.
    """

    default_message = "The LucidLink client failed."

    def __init__(self, message: str = "", *, detail: str = "", returncode: int | None = None):
        self.message = message or self.default_message
        self.detail = detail[:_MAX_DETAIL]
        self.returncode = returncode
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, returncode={self.returncode!r})"

    def __reduce__(self):
        # Keep the typed error intact through pickling (Celery results, retries).
        return (
            _restore,
            (type(self), self.message, self.detail, self.returncode),
        )


def _restore(cls, message, detail, returncode):
    return cls(message, detail=detail, returncode=returncode)


class CliUnavailable(CliError):
    default_message = (
        "The LucidLink client could not complete the request right now. Nothing was changed "
        "by the portal; try again in a few minutes."
    )


class CliTimeout(CliUnavailable):
    pass


class CliOutputError(CliError):
    default_message = (
        "The LucidLink client answered in a way the portal could not read. Check the list "
        "before trying again; our support team has been told."
    )


class CliRejected(CliError):
    default_message = "LucidLink refused the request."


class WrongPassword(CliRejected):
    default_message = (
        "LucidLink did not accept the filespace's root password that the portal holds. "
        "Contact support to reset it; nothing was changed."
    )


class FilespaceNotFound(CliRejected):
    default_message = (
        "LucidLink does not know this filespace. Contact support if you did not delete it."
    )


class NotInitialized(CliRejected):
    default_message = "The filespace is not initialized yet, so it cannot be managed."


class AlreadyInitialized(CliRejected):
    default_message = "The filespace is already initialized."


class Conflict(CliRejected):
    """The name is taken (user, snapshot schedule) or the filespace is in the wrong state."""


class NotFound(CliRejected):
    """The user, snapshot or schedule does not exist at LucidLink."""


class BadInput(CliRejected):
    """The CLI refused a value (a name, an interval) or the options themselves."""


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
        """The command as it may appear in a log line: every secret replaced."""
        return scrub(" ".join(self.args), self.secrets)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every (non-empty) secret replaced by [redacted], longest first."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


# --- Output parsing ------------------------------------------------------------------------

_SNAPSHOT_CREATED = re.compile(r"^Snapshot with ID (\d+) created\.$", re.M)
_SNAPSHOT_DELETED = re.compile(r"^Snapshot with ID (\d+) deleted\.$", re.M)
_USER_CREATED = re.compile(r"^User '(.+)' created successfully\.$", re.M)
_USER_DELETED = re.compile(r"^User '(.+)' deleted successfully\.$", re.M)
_SCHEDULE_CREATED = re.compile(r"^Snapshot schedule '(.+)' created successfully\.$", re.M)
_SCHEDULE_DELETED = re.compile(r"^Snapshot schedule '(.+)' deleted successfully\.$", re.M)
_INITIALIZED = re.compile(r"^Filespace '(.+)' initialized successfully\.$", re.M)
_LINKED = re.compile(r"^Filespace '(.+)' linked as '(.+)'\.$", re.M)
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


def _need(pattern: re.Pattern, output: str, what: str) -> re.Match:
    match = pattern.search(output)
    if match is None:
        raise CliOutputError(detail=f"expected {what}, got: {output.strip()[:200]!r}")
    return match


def parse_snapshot_created(output: str) -> int:
    return int(_need(_SNAPSHOT_CREATED, output, "'Snapshot with ID n created.'").group(1))


def parse_user_created(output: str) -> str:
    return _need(_USER_CREATED, output, "'User ... created successfully.'").group(1)


def parse_status(output: str) -> ClientStatus:
    state = _need(_STATUS, output, "'Client state: Linked|Unlinked'").group(1)
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
        return BadInput(
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


def _option(flag: str, value: str) -> str:
    """`--flag=value` as one argument, so a name starting with '-' is never read as an option."""
    return f"{flag}={value}"


# --- The runner ----------------------------------------------------------------------------


class LucidCli:
    """Runs `lucid` for one filespace (its own client state) as root.

    Build one with `for_filespace(qualified_name)`; methods that change the filespace take the
    root password as an argument and never keep it.
    """

    def __init__(
        self,
        *,
        qualified_name: str,
        path: str | None = None,
        timeout: float | None = None,
        state_dir: str | os.PathLike | None = None,
        password_via: str | None = None,
    ) -> None:
        self.qualified_name = qualified_name
        self.path = path or settings.LUCID_CLI_PATH
        self.timeout = float(timeout or settings.LUCID_CLI_TIMEOUT)
        self.state_dir = Path(state_dir or settings.LUCID_CLI_STATE_DIR)
        self.password_via = password_via or settings.LUCID_CLI_PASSWORD_VIA
        if self.password_via not in PASSWORD_VIA:
            raise ValueError(f"password_via must be one of {PASSWORD_VIA}")

    def __repr__(self) -> str:
        return f"LucidCli(qualified_name={self.qualified_name!r}, path={self.path!r})"

    # -- plumbing --------------------------------------------------------------------------

    def _state_file(self) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.qualified_name)
        return self.state_dir / f"{safe}.json"

    def _environment(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "LUCID_PASSWORD"}
        # lucidsim-cli keeps the linked filespace in this file; the vendor CLI ignores it.
        env["LUCIDSIM_CLI_STATE"] = str(self._state_file())
        env.update(extra)
        return env

    def _with_password(self, call: Call, password: str) -> Call:
        """Attach the root (or user) password the way settings say the CLI takes it."""
        call.secrets.append(password)
        via = self.password_via
        if via == PASSWORD_VIA[0]:  # stdin
            call.args.append("--password-stdin")
            call.stdin = password + "\n"
        elif via == PASSWORD_VIA[1]:  # env
            call.env["LUCID_PASSWORD"] = password
        else:
            call.args += ["--password", password]
        return call

    def run(self, call: Call) -> str:
        """Run one prepared command; its stdout on exit 0, else a typed CliError."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        shown = call.shown()
        try:
            completed = subprocess.run(
                [self.path, *call.args[1:]],
                input=call.stdin if call.stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=self._environment(call.env),
                check=False,
            )
        except subprocess.TimeoutExpired:
            logger.warning("lucid timed out after %.0f s: %s", self.timeout, shown)
            raise CliTimeout(
                f"The LucidLink client did not answer within {self.timeout:.0f} seconds. The "
                "request may not have finished: check the list before trying again.",
                detail=f"timeout after {self.timeout:.0f}s",
            ) from None
        except OSError as exc:
            logger.error("lucid could not be started (%s): %s", type(exc).__name__, shown)
            raise CliUnavailable(
                "The LucidLink client is not available on the portal's server. Nothing was "
                "changed; our support team has been told.",
                detail=f"{type(exc).__name__}: {self.path}",
            ) from None
        if completed.returncode != 0:
            error = classify(
                returncode=completed.returncode,
                stderr=completed.stderr,
                stdout=completed.stdout,
                secrets=call.secrets,
            )
            logger.warning(
                "lucid exited %s (%s): %s -- %s",
                completed.returncode,
                type(error).__name__,
                shown,
                error.detail,
            )
            raise error
        logger.info("lucid ok: %s", shown)
        return completed.stdout

    def _parsed(self, call: Call, parse):
        output = self.run(call)
        try:
            return parse(output)
        except CliOutputError as exc:
            exc.detail = scrub(exc.detail, call.secrets)
            logger.error("lucid output unreadable: %s -- %s", call.shown(), exc.detail)
            raise

    # -- client state ----------------------------------------------------------------------

    def status(self) -> ClientStatus:
        return self._parsed(Call(["lucid", "status"]), parse_status)

    def link_root(self, *, root_password: str) -> None:
        """Link this filespace's client state as root, unless it already is."""
        current = self.status()
        if current.linked and current.filespace == self.qualified_name:
            return
        if current.linked:
            self.run(Call(["lucid", "unlink"]))
        call = Call(["lucid", "link", "--fs", self.qualified_name, "--user", "root"])
        try:
            self._parsed(
                self._with_password(call, root_password),
                lambda out: _need(_LINKED, out, "'Filespace ... linked as ...'"),
            )
        except Conflict:
            # Another process linked the same state meanwhile; fine if it is this filespace.
            if self.status().filespace != self.qualified_name:
                raise

    # -- operations (reference: section 3) -------------------------------------------------

    def init_s3(
        self,
        *,
        root_password: str,
        endpoint: str,
        https: bool,
        access_key: str,
        secret_key: str,
        region: str,
        provider: str,
        bucket: str = "",
        block_size: int | None = None,
    ) -> None:
        """`lucid init-s3`: set the root password and connect the filespace to its storage."""
        args = ["lucid", "init-s3", "--fs", self.qualified_name]
        if https:
            args.append("--https")
        args += ["--endpoint", endpoint, "--access-key", access_key, "--secret-key", secret_key]
        args += ["--region", region]
        if bucket:
            args += ["--bucket-name", bucket]
        if block_size:
            args += ["--block-size", str(block_size)]
        args += ["--provider", provider]
        call = self._with_password(Call(args, secrets=[secret_key, access_key]), root_password)
        self._parsed(call, lambda out: _need(_INITIALIZED, out, "'... initialized successfully.'"))

    def user_create(
        self, *, root_password: str, name: str, user_password: str, email: str = ""
    ) -> str:
        self.link_root(root_password=root_password)
        args = ["lucid", "user", _option("--create", name), "--user-password", user_password]
        if email:
            args += ["--user-email", email]
        call = self._with_password(Call(args, secrets=[user_password]), root_password)
        return self._parsed(call, parse_user_created)

    def user_delete(self, *, root_password: str, name: str) -> None:
        self.link_root(root_password=root_password)
        call = self._with_password(
            Call(["lucid", "user", _option("--delete", name)]), root_password
        )
        self._parsed(call, lambda out: _need(_USER_DELETED, out, "'User ... deleted ...'"))

    def user_list(self, *, root_password: str) -> list[UserInfo]:
        self.link_root(root_password=root_password)
        return self._parsed(Call(["lucid", "user", "--list"]), parse_user_list)

    def snapshot_create(self, *, root_password: str, name: str = "") -> int:
        self.link_root(root_password=root_password)
        args = ["lucid", "snapshot", _option("--create", name) if name else "--create"]
        call = self._with_password(Call(args), root_password)
        return self._parsed(call, parse_snapshot_created)

    def snapshot_list(self, *, root_password: str) -> list[SnapshotInfo]:
        self.link_root(root_password=root_password)
        return self._parsed(Call(["lucid", "snapshot", "--list"]), parse_snapshot_list)

    def snapshot_delete(self, *, root_password: str, snapshot_id: int) -> None:
        self.link_root(root_password=root_password)
        call = self._with_password(
            Call(["lucid", "snapshot", "--delete", str(snapshot_id)]), root_password
        )
        self._parsed(call, lambda out: _need(_SNAPSHOT_DELETED, out, "'Snapshot ... deleted.'"))

    def schedule_create(
        self, *, root_password: str, name: str, interval: str, retention: int
    ) -> None:
        self.link_root(root_password=root_password)
        args = ["lucid", "snapshot-schedule", _option("--create", name), "--interval", interval]
        args += ["--retention", str(retention)]
        call = self._with_password(Call(args), root_password)
        self._parsed(call, lambda out: _need(_SCHEDULE_CREATED, out, "'... created ...'"))

    def schedule_delete(self, *, root_password: str, name: str) -> None:
        self.link_root(root_password=root_password)
        call = self._with_password(
            Call(["lucid", "snapshot-schedule", _option("--delete", name)]), root_password
        )
        self._parsed(call, lambda out: _need(_SCHEDULE_DELETED, out, "'... deleted ...'"))

    def schedule_list(self, *, root_password: str) -> list[ScheduleInfo]:
        self.link_root(root_password=root_password)
        return self._parsed(Call(["lucid", "snapshot-schedule", "--list"]), parse_schedule_list)


def for_filespace(qualified_name: str) -> LucidCli:
    """The runner for one filespace, configured from settings (the seam tests replace)."""
    return LucidCli(qualified_name=qualified_name)
