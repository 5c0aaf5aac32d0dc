"""The connection kit: the exact `lucid` Client CLI commands for one filespace.

Values the portal knows are filled in; secrets (root password, bucket secret key, user
password) never are: the page shows a placeholder and the scripts read them from the
environment or ask for them. Reference: docs/lucidlink-contract.md, section 3.
"""

import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.plans.models import StorageOwner
from provisioning.rules import DEFAULT_BLOCK_SIZE_KIB, PUBLIC_S3_ENDPOINTS

DEFAULT_CACHE_MIB = 10240


@dataclass(frozen=True)
class Secret:
    """A value the kit never contains: an environment variable name and how to ask for it."""

    env: str
    prompt: str

    @property
    def placeholder(self) -> str:
        return f"<{self.prompt.lower()}>"


@dataclass(frozen=True)
class Var:
    """A value the customer may override; the kit carries a default."""

    env: str
    default: str


ROOT_PASSWORD = Secret("LUCID_ROOT_PASSWORD", "Filespace root password")
SECRET_KEY = Secret("LUCID_SECRET_KEY", "Bucket secret key")
USER_PASSWORD = Secret("LUCID_PASSWORD", "Filespace user password")
ENDPOINT = Secret("LUCID_ENDPOINT", "Storage endpoint host")


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    explanation: str
    args: tuple  # of str | Secret | Var
    # Output that means "nothing to do" rather than a failure, so a script can go on.
    tolerate: str = ""

    def display(self) -> str:
        """The command as shown on the page, with placeholders for secrets."""
        parts = []
        for arg in self.args:
            if isinstance(arg, Secret):
                parts.append(f"'{arg.placeholder}'")
            elif isinstance(arg, Var):
                parts.append(shlex.quote(arg.default))
            else:
                parts.append(shlex.quote(arg))
        return " ".join(parts)

    def bash(self) -> str:
        parts = ['"$LUCID"']
        for arg in self.args[1:]:
            parts.append(f'"${arg.env}"' if isinstance(arg, Secret | Var) else shlex.quote(arg))
        return " ".join(parts)

    def powershell(self) -> str:
        parts = ["& $Lucid"]
        for arg in self.args[1:]:
            parts.append(f"$env:{arg.env}" if isinstance(arg, Secret | Var) else _ps_quote(arg))
        return " ".join(parts)


def _ps_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Kit:
    qualified_name: str
    steps: tuple[Step, ...]
    needs_init: bool

    @property
    def by_key(self) -> dict[str, Step]:
        """The steps by key ("init", "link", "mount", "cache"), for the guide's one-step pages."""
        return {step.key: step for step in self.steps}

    @property
    def secrets(self) -> list[Secret]:
        seen: dict[str, Secret] = {}
        for step in self.steps:
            for arg in step.args:
                if isinstance(arg, Secret):
                    seen.setdefault(arg.env, arg)
        return list(seen.values())

    @property
    def variables(self) -> list[Var]:
        seen: dict[str, Var] = {}
        for step in self.steps:
            for arg in step.args:
                if isinstance(arg, Var):
                    seen.setdefault(arg.env, arg)
        return list(seen.values())


def _endpoint(filespace) -> tuple[str | Secret, bool]:
    """The host[:port] for init-s3 and whether to pass --https."""
    if filespace.endpoint:
        parts = urlsplit(filespace.endpoint)
        return parts.netloc or filespace.endpoint, parts.scheme != "http"
    template = PUBLIC_S3_ENDPOINTS.get(filespace.provider)
    if template is None:
        return ENDPOINT, True
    return template.format(region=filespace.region), True


def kit_for(filespace, *, access_key: str = "", user_name: str = "root") -> Kit:
    """The kit for a filespace, linking as `user_name`; `init-s3` only for customer-owned storage.

    The person's own filespace user is the default; root only when the customer holds it.
    """
    fs = filespace.qualified_name
    steps: list[Step] = []
    own_storage = filespace.storage_owner == StorageOwner.CUSTOMER
    if own_storage:
        endpoint, https = _endpoint(filespace)
        args: list = ["lucid", "init-s3", "--fs", fs, "--password", ROOT_PASSWORD]
        if https:
            args.append("--https")
        args += ["--endpoint", endpoint, "--access-key", access_key or Var("LUCID_ACCESS_KEY", "")]
        args += ["--secret-key", SECRET_KEY, "--region", filespace.region]
        if filespace.bucket:
            args += ["--bucket-name", filespace.bucket]
        # The size chosen when initialization was requested; LucidLink's default until then.
        args += ["--block-size", str(filespace.block_size_kib or DEFAULT_BLOCK_SIZE_KIB)]
        args += ["--provider", filespace.provider]
        steps.append(
            Step(
                "init",
                "Initialize the filespace on your bucket",
                "Once only, by an administrator: connects the filespace to your bucket and sets "
                "its root password and block size (fixed from then on). Skip it if the filespace "
                "is already initialized.",
                tuple(args),
            )
        )
    steps += [
        Step(
            "link",
            "Link this computer",
            "Connects the LucidLink client on this computer to the filespace as the given user.",
            (
                "lucid",
                "link",
                "--fs",
                fs,
                "--user",
                Var("LUCID_USER", user_name),
                "--password",
                USER_PASSWORD,
            ),
        ),
        Step(
            "mount",
            "Mount the filespace",
            "Makes the filespace appear as a folder or drive. Linking mounts it already; "
            "run this again after an unmount or a restart.",
            ("lucid", "mount"),
            tolerate="already mounted",
        ),
        Step(
            "cache",
            "Turn on the local cache",
            "Keeps recently used data on this computer, so files open at local speed "
            "(size in MiB).",
            ("lucid", "cache", "--on", "--size", Var("LUCID_CACHE_MIB", str(DEFAULT_CACHE_MIB))),
        ),
    ]
    return Kit(qualified_name=fs, steps=tuple(steps), needs_init=own_storage)


def _one_line(text: str) -> str:
    """Text safe inside a script comment: no line breaks to escape the comment with."""
    return " ".join(text.split())


def bash_script(kit: Kit, *, msp_name: str, run_init: bool) -> str:
    msp_name = _one_line(msp_name)
    lines = [
        "#!/usr/bin/env bash",
        f"# Connect this computer to the filespace {kit.qualified_name} ({msp_name}).",
        "# Secrets are never stored in this file: set them in the environment first,",
        "# or the script asks for them.",
        "set -euo pipefail",
        'LUCID="${LUCID:-lucid}"',
    ]
    for var in kit.variables:
        lines.append(f'{var.env}="${{{var.env}:-{var.default}}}"')
    if kit.needs_init:
        lines.append(f'LUCID_RUN_INIT="${{LUCID_RUN_INIT:-{1 if run_init else 0}}}"')
    for secret in kit.secrets:
        condition = f'[ -z "${{{secret.env}:-}}" ]'
        if secret in (ROOT_PASSWORD, SECRET_KEY, ENDPOINT):
            condition = f'[ "$LUCID_RUN_INIT" = "1" ] && {condition}'
        lines.append(f'if {condition}; then read -rsp "{secret.prompt}: " {secret.env}; echo; fi')
    for step in kit.steps:
        lines.append("")
        lines.append(f"# {step.title}: {step.explanation}")
        if step.key == "init":
            lines.append('if [ "$LUCID_RUN_INIT" = "1" ]; then')
            lines.append(f"  {step.bash()}")
            lines.append("fi")
        elif step.tolerate:
            lines.append(f"if ! output=$({step.bash()} 2>&1); then")
            lines.append(
                f'  case "$output" in *"{step.tolerate}"*) ;; *) echo "$output" >&2; exit 1 ;; esac'
            )
            lines.append("fi")
            lines.append('echo "$output"')
        else:
            lines.append(step.bash())
    lines.append("")
    lines.append(f'echo "Connected to {kit.qualified_name}."')
    return "\n".join(lines) + "\n"


def powershell_script(kit: Kit, *, msp_name: str, run_init: bool) -> str:
    msp_name = _one_line(msp_name)
    lines = [
        f"# Connect this computer to the filespace {kit.qualified_name} ({msp_name}).",
        "# Secrets are never stored in this file: set them in the environment first,",
        "# or the script asks for them.",
        '$ErrorActionPreference = "Stop"',
        '$Lucid = if ($env:LUCID) { $env:LUCID } else { "lucid" }',
        "function Read-Secret([string]$Prompt) {",
        "  $secure = Read-Host -AsSecureString $Prompt",
        "  [Runtime.InteropServices.Marshal]::PtrToStringAuto("
        "[Runtime.InteropServices.Marshal]::SecureStringToBSTR($secure))",
        "}",
        "function Invoke-Lucid([scriptblock]$Command) {",
        "  & $Command",
        '  if ($LASTEXITCODE -ne 0) { throw "lucid failed with exit code $LASTEXITCODE" }',
        "}",
    ]
    for var in kit.variables:
        lines.append(f"if (-not $env:{var.env}) {{ $env:{var.env} = {_ps_quote(var.default)} }}")
    if kit.needs_init:
        default = "1" if run_init else "0"
        lines.append(f"if (-not $env:LUCID_RUN_INIT) {{ $env:LUCID_RUN_INIT = '{default}' }}")
    for secret in kit.secrets:
        condition = f"-not $env:{secret.env}"
        if secret in (ROOT_PASSWORD, SECRET_KEY, ENDPOINT):
            condition = f"$env:LUCID_RUN_INIT -eq '1' -and {condition}"
        lines.append(f"if ({condition}) {{ $env:{secret.env} = Read-Secret '{secret.prompt}' }}")
    for step in kit.steps:
        lines.append("")
        lines.append(f"# {step.title}: {step.explanation}")
        command = f"Invoke-Lucid {{ {step.powershell()} }}"
        if step.tolerate:
            command = (
                f"$output = {step.powershell()} 2>&1; $output | Write-Host; "
                f"if ($LASTEXITCODE -ne 0 -and \"$output\" -notmatch '{step.tolerate}') "
                '{ throw "lucid failed with exit code $LASTEXITCODE" }'
            )
        if step.key == "init":
            command = f"if ($env:LUCID_RUN_INIT -eq '1') {{ {command} }}"
        lines.append(command)
    lines.append("")
    lines.append(f'Write-Host "Connected to {kit.qualified_name}."')
    return "\r\n".join(lines) + "\r\n"
