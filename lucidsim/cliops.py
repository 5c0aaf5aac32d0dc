"""Server side of the ``lucid`` CLI simulator: init-s3, link, users, snapshots, schedules.

The real Service API has none of these calls; the CLI reaches them under ``/_sim/cli/``.
Passwords are kept only as salted PBKDF2 digests and never appear in an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from lucidsim.errors import ApiError
from lucidsim.state import Simulator

USER_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,128}$")
SCHEDULE_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,40}$")
INTERVAL_RE = re.compile(r"^[1-9][0-9]{0,3}(mo|m|h|d|w|y)$")
BLOCK_SIZES = (64, 128, 256, 512, 1024)
MIN_PASSWORD = 8
ITERATIONS = 20_000


def hash_password(password: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), ITERATIONS)
    return f"{salt}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    salt, _, expected = stored.partition("$")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), ITERATIONS)
    return hmac.compare_digest(digest.hex(), expected)


def _text(body: dict, key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ApiError(400, f"Missing or invalid value for {key}.")
    return value


def _filespace(sim: Simulator, body: dict, *, initialized: bool = True) -> dict:
    qualified = _text(body, "fs")
    fs = sim.find_qualified(qualified) if qualified.count(".") == 1 else None
    if fs is None:
        raise ApiError(404, f"Filespace '{qualified}' not found.")
    if initialized and fs["status"] != "initialized":
        raise ApiError(409, f"Filespace '{qualified}' is not initialized.")
    return fs


def _root(body: dict, fs: dict) -> None:
    password = body.get("password")
    if not isinstance(password, str) or not check_password(password, fs["root_password"]):
        raise ApiError(403, "Invalid root password.")


def init_s3(sim: Simulator, body: dict) -> dict:
    with sim.lock:
        fs = _filespace(sim, body, initialized=False)
        qualified = sim.qualified_name(fs)
        if fs["status"] != "provisioned":
            state = {
                "initialized": "is already initialized",
                "provisioning": "is still provisioning",
            }
            detail = state.get(fs["status"], f"is in status '{fs['status']}'")
            raise ApiError(409, f"Filespace '{qualified}' {detail}.")
        password = _text(body, "password")
        if len(password) < MIN_PASSWORD:
            raise ApiError(400, f"Root password must be at least {MIN_PASSWORD} characters.")
        storage = fs["storage"]
        provider = _text(body, "provider")
        if provider.lower() != storage["provider"].lower():
            raise ApiError(
                400, f"Provider '{provider}' does not match the filespace storage provider."
            )
        region = _text(body, "region")
        if region != storage["region"]:
            raise ApiError(400, f"Region '{region}' does not match the filespace storage region.")
        bucket = _text(body, "bucket_name", required=False)
        if bucket is not None and "bucket" in storage and bucket != storage["bucket"]:
            raise ApiError(400, f"Bucket '{bucket}' does not match the filespace storage bucket.")
        block_size = body.get("block_size", 256)
        if block_size not in BLOCK_SIZES or isinstance(block_size, bool):
            sizes = ", ".join(map(str, BLOCK_SIZES))
            raise ApiError(400, f"Block size must be one of {sizes} KiB.")
        fs["root_password"] = hash_password(password)
        fs["block_size"] = block_size
        fs["status"] = "initialized"
        sim.save_filespace(fs)
        return {"fs": qualified, "status": fs["status"], "block_size": block_size}


def link(sim: Simulator, body: dict) -> dict:
    with sim.lock:
        fs = _filespace(sim, body)
        user = _text(body, "user")
        password = body.get("password")
        if user == "root":
            stored = fs["root_password"]
        else:
            stored = fs["users"].get(user.lower(), {}).get("password")
        if not isinstance(password, str) or not check_password(password, stored):
            raise ApiError(403, "Invalid user name or password.")
        shown = user if user == "root" else fs["users"][user.lower()]["name"]
        return {
            "fs": sim.qualified_name(fs),
            "filespace_id": fs["id"],
            "name": fs["name"],
            "domain": fs["domain_name"],
            "user": shown,
        }


def users(sim: Simulator, body: dict) -> dict:
    with sim.lock:
        fs = _filespace(sim, body)
        action = body.get("action")
        if action == "list":
            listed = [{"name": u["name"], "email": u["email"]} for u in fs["users"].values()]
            return {"users": sorted(listed, key=lambda u: u["name"].lower())}
        _root(body, fs)
        name = _text(body, "name")
        key = name.lower()
        if action == "create":
            if not USER_NAME_RE.fullmatch(name) or key == "root":
                raise ApiError(
                    400, "User names use letters, digits, '-', '_', '.', '@', up to 128 characters."
                )
            if key in fs["users"]:
                raise ApiError(409, f"User '{name}' already exists.")
            user_password = _text(body, "user_password", required=False)
            email = _text(body, "email", required=False)
            if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ApiError(400, f"'{email}' is not a valid email address.")
            fs["users"][key] = {
                "name": name,
                "email": email,
                "password": hash_password(user_password) if user_password else None,
            }
        elif action == "delete":
            if key not in fs["users"]:
                raise ApiError(404, f"User '{name}' not found.")
            name = fs["users"].pop(key)["name"]
        elif action == "set":
            if key not in fs["users"]:
                raise ApiError(404, f"User '{name}' not found.")
            user = fs["users"][key]
            user_password = _text(body, "user_password", required=False)
            email = _text(body, "email", required=False)
            if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ApiError(400, f"'{email}' is not a valid email address.")
            if user_password:
                user["password"] = hash_password(user_password)
            if email:
                user["email"] = email
            name = user["name"]
        else:
            raise ApiError(400, "action must be list, create, set or delete.")
        sim.record_users(fs)
        sim.save_filespace(fs)
        return {"name": name, "usersCount": len(fs["users"])}


def snapshots(sim: Simulator, body: dict) -> dict:
    with sim.lock:
        fs = _filespace(sim, body)
        action = body.get("action")
        if action == "list":
            return {"snapshots": list(fs["snapshots"])}
        _root(body, fs)
        if action == "create":
            name = _text(body, "name", required=False)
            if name is not None and not SNAPSHOT_NAME_RE.fullmatch(name):
                raise ApiError(
                    400, "Snapshot names use letters, digits, space, '-', '_', '(' and ')'."
                )
            snapshot_id = fs["next_snapshot_id"]
            created = datetime.fromtimestamp(sim.now_ms() / 1000, UTC)
            snapshot = {
                "id": snapshot_id,
                "state": "Active",
                "name": name or f"snapshot-{snapshot_id}",
                "created": created.strftime("%Y-%m-%d %H:%M:%S"),
            }
            fs["snapshots"].append(snapshot)
            fs["next_snapshot_id"] = snapshot_id + 1
        elif action == "delete":
            snapshot_id = body.get("id")
            found = [s for s in fs["snapshots"] if s["id"] == snapshot_id]
            if not found or isinstance(snapshot_id, bool):
                raise ApiError(404, f"Snapshot with ID {snapshot_id} not found.")
            snapshot = found[0]
            fs["snapshots"].remove(snapshot)
        else:
            raise ApiError(400, "action must be list, create or delete.")
        sim.save_filespace(fs)
        return {"snapshot": snapshot}


def schedules(sim: Simulator, body: dict) -> dict:
    with sim.lock:
        fs = _filespace(sim, body)
        action = body.get("action")
        if action == "list":
            return {"schedules": sorted(fs["schedules"].values(), key=lambda s: s["name"])}
        _root(body, fs)
        name = _text(body, "name")
        if action == "create":
            if not SCHEDULE_NAME_RE.fullmatch(name):
                raise ApiError(
                    400,
                    "Schedule names use letters, digits, space, '-', '_', '(' and ')', "
                    "up to 40 characters.",
                )
            interval = _text(body, "interval")
            if not INTERVAL_RE.fullmatch(interval):
                raise ApiError(400, "Interval must be a number followed by m, h, d, w, mo or y.")
            retention = body.get("retention")
            if isinstance(retention, bool) or not isinstance(retention, int) or retention < 1:
                raise ApiError(400, "Retention must be a positive whole number.")
            if name.lower() in fs["schedules"]:
                raise ApiError(409, f"Snapshot schedule '{name}' already exists.")
            fs["schedules"][name.lower()] = {
                "name": name,
                "interval": interval,
                "retention": retention,
            }
        elif action == "delete":
            if name.lower() not in fs["schedules"]:
                raise ApiError(404, f"Snapshot schedule '{name}' not found.")
            name = fs["schedules"].pop(name.lower())["name"]
        else:
            raise ApiError(400, "action must be list, create or delete.")
        sim.save_filespace(fs)
        return {"name": name}


OPERATIONS = {
    "init-s3": init_s3,
    "link": link,
    "user": users,
    "snapshot": snapshots,
    "snapshot-schedule": schedules,
}
