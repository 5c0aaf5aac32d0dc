"""Runner for the LucidLink Client CLI (`lucid`), used for the operations the Service API lacks.

A package because the module passed ~500 lines; import from here (`from provisioning import cli`).

Reference: docs/lucidlink-contract.md, section 3 ("Client CLI `lucid`"). Every call runs the
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

from provisioning.cli.errors import (
    AlreadyInitialized,
    BadInput,
    CliError,
    CliNotInstalled,
    CliOutputError,
    CliRejected,
    CliTimeout,
    CliUnavailable,
    Conflict,
    FilespaceNotFound,
    NotFound,
    NotInitialized,
    OptionsRefused,
    WrongPassword,
)
from provisioning.cli.parsing import (
    REDACTED,
    Call,
    ClientStatus,
    ScheduleInfo,
    SnapshotInfo,
    UserInfo,
    classify,
    parse_schedule_list,
    parse_snapshot_created,
    parse_snapshot_list,
    parse_status,
    parse_user_created,
    parse_user_list,
    scrub,
)
from provisioning.cli.runner import PASSWORD_VIA, LucidCli, for_filespace, resolve_cli_path

__all__ = [
    "PASSWORD_VIA",
    "REDACTED",
    "AlreadyInitialized",
    "BadInput",
    "Call",
    "CliError",
    "CliNotInstalled",
    "CliOutputError",
    "CliRejected",
    "CliTimeout",
    "CliUnavailable",
    "ClientStatus",
    "Conflict",
    "FilespaceNotFound",
    "LucidCli",
    "NotFound",
    "NotInitialized",
    "OptionsRefused",
    "ScheduleInfo",
    "SnapshotInfo",
    "UserInfo",
    "WrongPassword",
    "classify",
    "for_filespace",
    "parse_schedule_list",
    "parse_snapshot_created",
    "parse_snapshot_list",
    "parse_status",
    "parse_user_created",
    "parse_user_list",
    "resolve_cli_path",
    "scrub",
]
