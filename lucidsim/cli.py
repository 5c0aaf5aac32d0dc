"""``lucidsim-cli``: a stand-in for the LucidLink ``lucid`` client CLI that talks to lucidsim.

Operations that change a filespace go to the simulator's ``/_sim/cli/...`` endpoints; the
client-side state (linked filespace, user, mount, cache) lives in a small JSON file. Passwords
are never printed and never written to that file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8001"
TIMEOUT = 30


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- client state and transport -------------------------------------------------------------


def _state_path() -> str:
    return os.environ.get("LUCIDSIM_CLI_STATE") or os.path.expanduser("~/.lucidsim-cli.json")


def load_state() -> dict:
    try:
        with open(_state_path(), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read the client state file {_state_path()}: {exc}") from None
    return data if isinstance(data, dict) else {}


def save_state(state: dict) -> None:
    path = _state_path()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".lucidsim-cli.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(tmp, path)


def call(operation: str, payload: dict) -> dict:
    url = (os.environ.get("LUCIDSIM_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"LUCIDSIM_URL must be an http(s) URL, not {url!r}.")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        f"{url}/_sim/cli/{operation}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message") or str(exc)
        except (ValueError, AttributeError):
            message = f"the service answered HTTP {exc.code}"
        raise CliError(message) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CliError(f"cannot reach the LucidLink service at {url}: {exc}") from None


def password(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """The root (or user) password from --password, --password-stdin or LUCID_PASSWORD."""
    if getattr(args, "password", None):
        return args.password
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline().rstrip("\r\n")
        if line:
            return line
    env = os.environ.get("LUCID_PASSWORD")
    if env:
        return env
    if required:
        raise CliError(
            "a password is required: --password, --password-stdin or LUCID_PASSWORD.", code=2
        )
    return None


def linked(state: dict) -> dict:
    if not state.get("fs"):
        raise CliError("the client is not linked to a filespace; run 'lucid link' first.")
    return state


# -- commands ---------------------------------------------------------------------------------


def cmd_init_s3(args: argparse.Namespace) -> None:
    payload = {
        "fs": args.fs,
        "password": password(args),
        "provider": args.provider,
        "region": args.region,
        "endpoint": args.endpoint,
        "https": args.https,
        "bucket_name": args.bucket_name,
        "block_size": args.block_size,
    }
    result = call("init-s3", payload)
    print(f"Filespace '{result['fs']}' initialized successfully.")


def cmd_link(args: argparse.Namespace) -> None:
    state = load_state()
    if state.get("fs"):
        raise CliError(f"the client is already linked to '{state['fs']}'; run 'lucid unlink'.")
    result = call("link", {"fs": args.fs, "user": args.user, "password": password(args)})
    mount_point = args.mount_point or f"/media/{result['domain']}/{result['name']}"
    save_state(
        {
            "fs": result["fs"],
            "filespace_id": result["filespace_id"],
            "user": result["user"],
            "mount_point": mount_point,
            "mounted": True,
            "cache": {"on": True, "size": 5120},
        }
    )
    print(f"Filespace '{result['fs']}' linked as '{result['user']}'.")
    print(f"Filespace mounted at {mount_point}.")


def cmd_unlink(args: argparse.Namespace) -> None:
    state = linked(load_state())
    save_state({})
    print(f"Filespace '{state['fs']}' unlinked.")


def cmd_status(args: argparse.Namespace) -> None:
    state = load_state()
    if not state.get("fs"):
        print("Client state: Unlinked")
        return
    cache = state.get("cache", {})
    print("Client state: Linked")
    print(f"Filespace: {state['fs']}")
    print(f"User: {state['user']}")
    print(f"Mount point: {state['mount_point']}")
    print(f"Mounted: {'yes' if state.get('mounted') else 'no'}")
    print(f"Cache: on, {cache.get('size')} MiB" if cache.get("on") else "Cache: off")


def cmd_list(args: argparse.Namespace) -> None:
    state = load_state()
    print("FILESPACE  USER  MOUNT POINT")
    if state.get("fs"):
        print(f"{state['fs']}  {state['user']}  {state['mount_point']}")


def cmd_mount(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if state.get("mounted"):
        raise CliError(f"the filespace is already mounted at {state['mount_point']}.")
    state["mounted"] = True
    save_state(state)
    print(f"Filespace mounted at {state['mount_point']}.")


def cmd_unmount(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if not state.get("mounted"):
        raise CliError("the filespace is not mounted.")
    state["mounted"] = False
    save_state(state)
    print("Filespace unmounted.")


def cmd_cache(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if args.on:
        if args.size is None:
            raise CliError("--on needs --size <MiB>.", code=2)
        state["cache"] = {"on": True, "size": args.size}
        message = f"Cache enabled with size {args.size} MiB."
    else:
        if args.size is not None:
            raise CliError("--size only goes with --on.", code=2)
        state["cache"] = {"on": False, "size": state.get("cache", {}).get("size")}
        message = "Cache disabled."
    save_state(state)
    print(message)


def _columns(*values: object) -> str:
    return "  ".join("-" if value in (None, "") else str(value) for value in values)


def cmd_user(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if args.create is None and args.delete is None and args.set is None:
        result = call("user", {"fs": state["fs"], "action": "list"})
        print("USER  EMAIL")
        for user in result["users"]:
            print(_columns(user["name"], user["email"]))
        return
    payload = {"fs": state["fs"], "password": password(args)}
    if args.create is not None:
        payload |= {
            "action": "create",
            "name": args.create,
            "user_password": args.user_password,
            "email": args.user_email,
        }
        result = call("user", payload)
        print(f"User '{result['name']}' created successfully.")
    elif args.set is not None:
        if not args.user_password and not args.user_email:
            raise CliError("--set needs --user-password or --user-email.", code=2)
        payload |= {
            "action": "set",
            "name": args.set,
            "user_password": args.user_password,
            "email": args.user_email,
        }
        result = call("user", payload)
        print(f"User '{result['name']}' updated successfully.")
    else:
        result = call("user", payload | {"action": "delete", "name": args.delete})
        print(f"User '{result['name']}' deleted successfully.")


def cmd_snapshot(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if args.create is None and args.delete is None:
        result = call("snapshot", {"fs": state["fs"], "action": "list"})
        print("ID  STATE  NAME  CREATED ON")
        for snap in result["snapshots"]:
            print(_columns(snap["id"], snap["state"], snap["name"], snap["created"]))
        return
    payload = {"fs": state["fs"], "password": password(args)}
    if args.create is not None:
        result = call("snapshot", payload | {"action": "create", "name": args.create or None})
        print(f"Snapshot with ID {result['snapshot']['id']} created.")
    else:
        result = call("snapshot", payload | {"action": "delete", "id": args.delete})
        print(f"Snapshot with ID {result['snapshot']['id']} deleted.")


def cmd_schedule(args: argparse.Namespace) -> None:
    state = linked(load_state())
    if args.create is None and args.delete is None:
        result = call("snapshot-schedule", {"fs": state["fs"], "action": "list"})
        print("NAME  INTERVAL  RETENTION")
        for schedule in result["schedules"]:
            print(_columns(schedule["name"], schedule["interval"], schedule["retention"]))
        return
    payload = {"fs": state["fs"], "password": password(args)}
    if args.create is not None:
        if args.interval is None or args.retention is None:
            raise CliError("--create needs --interval and --retention.", code=2)
        payload |= {
            "action": "create",
            "name": args.create,
            "interval": args.interval,
            "retention": args.retention,
        }
        result = call("snapshot-schedule", payload)
        print(f"Snapshot schedule '{result['name']}' created successfully.")
    else:
        result = call("snapshot-schedule", payload | {"action": "delete", "name": args.delete})
        print(f"Snapshot schedule '{result['name']}' deleted successfully.")


# -- argument parsing -------------------------------------------------------------------------


def _password_options(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--password", help=help_text)
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first stdin line"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lucid", description="LucidLink client (simulated).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init-s3", help="initialize a provisioned filespace")
    init.add_argument("--fs", required=True, metavar="FS.DOMAIN")
    _password_options(init, "root password to set")
    init.add_argument("--https", action="store_true")
    init.add_argument("--endpoint", required=True)
    init.add_argument("--access-key", required=True)
    init.add_argument("--secret-key", required=True)
    init.add_argument("--region", required=True)
    init.add_argument("--bucket-name")
    init.add_argument("--block-size", type=int, default=256, metavar="KIB")
    init.add_argument("--provider", required=True)
    init.set_defaults(func=cmd_init_s3)

    link = commands.add_parser("link", help="link this client to a filespace")
    link.add_argument("--fs", required=True, metavar="FS.DOMAIN")
    link.add_argument("--user", required=True)
    _password_options(link, "the user's password")
    link.add_argument("--mount-point")
    link.set_defaults(func=cmd_link)

    for name, func in (
        ("unlink", cmd_unlink),
        ("status", cmd_status),
        ("list", cmd_list),
        ("mount", cmd_mount),
        ("unmount", cmd_unmount),
    ):
        commands.add_parser(name).set_defaults(func=func)

    cache = commands.add_parser("cache", help="turn the local cache on or off")
    switch = cache.add_mutually_exclusive_group(required=True)
    switch.add_argument("--on", action="store_true")
    switch.add_argument("--off", action="store_true")
    cache.add_argument("--size", type=_positive, metavar="MIB")
    cache.set_defaults(func=cmd_cache)

    user = commands.add_parser("user", help="manage filespace users")
    action = user.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true")
    action.add_argument("--create", metavar="NAME")
    action.add_argument("--delete", metavar="NAME")
    action.add_argument("--set", metavar="NAME")
    user.add_argument("--user-password")
    user.add_argument("--user-email")
    _password_options(user, "root password")
    user.set_defaults(func=cmd_user)

    snapshot = commands.add_parser("snapshot", help="manage snapshots")
    action = snapshot.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true")
    action.add_argument("--create", nargs="?", const="", metavar="NAME")
    action.add_argument("--delete", type=_positive, metavar="ID")
    _password_options(snapshot, "root password")
    snapshot.set_defaults(func=cmd_snapshot)

    schedule = commands.add_parser("snapshot-schedule", help="manage snapshot schedules")
    action = schedule.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true")
    action.add_argument("--create", metavar="NAME")
    action.add_argument("--delete", metavar="NAME")
    schedule.add_argument("--interval", metavar="N{m,h,d,w,mo,y}")
    schedule.add_argument("--retention", type=_positive, metavar="N")
    _password_options(schedule, "root password")
    schedule.set_defaults(func=cmd_schedule)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CliError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
