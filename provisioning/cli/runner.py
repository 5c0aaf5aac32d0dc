"""The `lucid` runner: one subprocess per command, with a timeout, secrets kept out of argv/logs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from provisioning.cli.errors import (
    CliNotInstalled,
    CliOutputError,
    CliTimeout,
    Conflict,
)
from provisioning.cli.parsing import (
    INITIALIZED_RE,
    LINKED_RE,
    SCHEDULE_CREATED_RE,
    SCHEDULE_DELETED_RE,
    SNAPSHOT_DELETED_RE,
    USER_DELETED_RE,
    USER_UPDATED_RE,
    Call,
    ClientStatus,
    ScheduleInfo,
    SnapshotInfo,
    UserInfo,
    classify,
    cli_option,
    parse_schedule_list,
    parse_snapshot_created,
    parse_snapshot_list,
    parse_status,
    parse_user_created,
    parse_user_list,
    require_match,
    scrub,
)

logger = logging.getLogger(__name__)

PASSWORD_VIA = ("stdin", "env", "argv")


def resolve_cli_path(configured: str) -> str:
    """The binary to run for LUCID_CLI_PATH: an absolute path as given, else the one on PATH,
    else the one next to the running interpreter.

    The last case is how `make run` and the tests find the simulator's `lucidsim-cli`: pip puts
    it in the virtualenv's bin directory, which is not on the worker's PATH unless the
    virtualenv is activated. A name found nowhere is returned unchanged, so the failure names it.
    """
    if os.path.isabs(configured) or os.sep in configured:
        return configured
    found = shutil.which(configured)
    if found:
        return found
    beside = Path(sys.executable).parent / configured
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return configured


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
        self.path = resolve_cli_path(path or settings.LUCID_CLI_PATH)
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
            raise CliNotInstalled(
                "The LucidLink client is not available on the portal's server, so nothing was "
                "changed. Our support team has been told.",
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
                lambda out: require_match(LINKED_RE, out, "'Filespace ... linked as ...'"),
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
        # The access key is not a secret (the connection kit shows it); the secret key is.
        call = self._with_password(Call(args, secrets=[secret_key]), root_password)
        self._parsed(
            call, lambda out: require_match(INITIALIZED_RE, out, "'... initialized successfully.'")
        )

    def user_create(
        self, *, root_password: str, name: str, user_password: str, email: str = ""
    ) -> str:
        self.link_root(root_password=root_password)
        args = ["lucid", "user", cli_option("--create", name), "--user-password", user_password]
        if email:
            args += ["--user-email", email]
        call = self._with_password(Call(args, secrets=[user_password]), root_password)
        return self._parsed(call, parse_user_created)

    def user_delete(self, *, root_password: str, name: str) -> None:
        self.link_root(root_password=root_password)
        call = self._with_password(
            Call(["lucid", "user", cli_option("--delete", name)]), root_password
        )
        self._parsed(
            call, lambda out: require_match(USER_DELETED_RE, out, "'User ... deleted ...'")
        )

    def user_set_password(self, *, root_password: str, name: str, user_password: str) -> None:
        """`lucid user --set NAME --user-password PW`: give an existing user a new password."""
        self.link_root(root_password=root_password)
        args = ["lucid", "user", cli_option("--set", name), "--user-password", user_password]
        call = self._with_password(Call(args, secrets=[user_password]), root_password)
        self._parsed(
            call, lambda out: require_match(USER_UPDATED_RE, out, "'User ... updated ...'")
        )

    def user_list(self, *, root_password: str) -> list[UserInfo]:
        self.link_root(root_password=root_password)
        return self._parsed(Call(["lucid", "user", "--list"]), parse_user_list)

    def snapshot_create(self, *, root_password: str, name: str = "") -> int:
        self.link_root(root_password=root_password)
        args = ["lucid", "snapshot", cli_option("--create", name) if name else "--create"]
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
        self._parsed(
            call, lambda out: require_match(SNAPSHOT_DELETED_RE, out, "'Snapshot ... deleted.'")
        )

    def schedule_create(
        self, *, root_password: str, name: str, interval: str, retention: int
    ) -> None:
        self.link_root(root_password=root_password)
        args = ["lucid", "snapshot-schedule", cli_option("--create", name), "--interval", interval]
        args += ["--retention", str(retention)]
        call = self._with_password(Call(args), root_password)
        self._parsed(call, lambda out: require_match(SCHEDULE_CREATED_RE, out, "'... created ...'"))

    def schedule_delete(self, *, root_password: str, name: str) -> None:
        self.link_root(root_password=root_password)
        call = self._with_password(
            Call(["lucid", "snapshot-schedule", cli_option("--delete", name)]), root_password
        )
        self._parsed(call, lambda out: require_match(SCHEDULE_DELETED_RE, out, "'... deleted ...'"))

    def schedule_list(self, *, root_password: str) -> list[ScheduleInfo]:
        self.link_root(root_password=root_password)
        return self._parsed(Call(["lucid", "snapshot-schedule", "--list"]), parse_schedule_list)


def for_filespace(qualified_name: str) -> LucidCli:
    """The runner for one filespace, configured from settings (the seam tests replace)."""
    return LucidCli(qualified_name=qualified_name)
