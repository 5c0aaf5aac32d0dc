import json
import os
import subprocess

import pytest

ROOT_PW = "root-secret-1"
INIT = [
    "init-s3",
    "--fs",
    "media.acme",
    "--endpoint",
    "s3.us-east.cloud-object-storage.appdomain.cloud",
    "--access-key",
    "AKIAEXAMPLE",
    "--secret-key",
    "s3-secret-key",
    "--region",
    "us-east",
    "--provider",
    "IBM",
    "--https",
]


@pytest.fixture
def lucid(lucidsim, tmp_path):
    """Run lucidsim-cli against the test server with its own client state file."""
    env = {**os.environ, **lucidsim.cli_env(tmp_path)}
    env.pop("LUCID_PASSWORD", None)

    def run(*args: str, stdin: str | None = None, extra_env: dict | None = None):
        return subprocess.run(
            [lucidsim.cli_path, *args],
            capture_output=True,
            text=True,
            input=stdin,
            env={**env, **(extra_env or {})},
            timeout=30,
        )

    return run


@pytest.fixture
def provisioned(create_fs):
    return create_fs("media")


@pytest.fixture
def linked(lucid, provisioned):
    assert lucid(*INIT, "--password", ROOT_PW).returncode == 0
    assert (
        lucid("link", "--fs", "media.acme", "--user", "root", "--password", ROOT_PW).returncode == 0
    )
    return provisioned


def _ok(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def _fails(result, text: str, code: int = 1) -> None:
    assert result.returncode == code
    assert result.stdout == ""
    assert text in result.stderr


def test_init_s3_initializes_a_provisioned_filespace(lucidsim, lucid, provisioned):
    result = lucid(*INIT, "--password", ROOT_PW, "--block-size", "512")

    assert _ok(result) == ["Filespace 'media.acme' initialized successfully."]
    assert lucidsim.api("GET", f"/filespaces/{provisioned['id']}").json()["status"] == "initialized"
    assert ROOT_PW not in result.stdout
    assert lucidsim.count("cli.init-s3", "media") == 1


def test_init_s3_refuses_what_it_cannot_initialize(lucidsim, lucid, create_fs):
    _fails(lucid(*INIT, "--password", ROOT_PW), "Filespace 'media.acme' not found.")
    lucidsim.set_delay(600)
    create_fs("media")
    _fails(lucid(*INIT, "--password", ROOT_PW), "is still provisioning")


def test_init_s3_checks_password_storage_and_block_size(lucid, provisioned):
    _fails(lucid(*INIT, "--password", "short"), "at least 8 characters")
    wrong_provider = [*INIT[:-2], "AWS", "--https"]
    _fails(lucid(*wrong_provider, "--password", ROOT_PW), "does not match the filespace storage")
    wrong_region = [*INIT]
    wrong_region[wrong_region.index("us-east")] = "eu-de"
    _fails(lucid(*wrong_region, "--password", ROOT_PW), "Region 'eu-de' does not match")
    _fails(lucid(*INIT, "--password", ROOT_PW, "--block-size", "100"), "Block size must be one of")


def test_a_block_size_that_is_not_a_number_is_a_usage_error_and_initializes_nothing(
    lucid, provisioned
):
    _fails(
        lucid(*INIT, "--password", ROOT_PW, "--block-size", "256k"),
        "argument --block-size: invalid int value",
        code=2,
    )
    _fails(lucid(*INIT, "--password", ROOT_PW, "--block-size", "2048"), "Block size must be one of")

    _ok(lucid(*INIT, "--password", ROOT_PW, "--block-size", "512"))


def test_init_s3_runs_only_once(lucid, provisioned):
    _ok(lucid(*INIT, "--password", ROOT_PW))

    _fails(lucid(*INIT, "--password", "another-pass"), "is already initialized")


def test_missing_flags_are_a_usage_error(lucid):
    result = lucid("init-s3", "--fs", "media.acme")

    assert result.returncode == 2
    assert "required" in result.stderr
    assert lucid("snapshot", "--create", "x", "--delete", "1").returncode == 2
    assert lucid("cache").returncode == 2
    assert lucid("frobnicate").returncode == 2


def test_a_missing_password_is_a_usage_error(lucid, provisioned):
    _fails(lucid(*INIT), "a password is required", code=2)


def test_the_password_can_come_from_the_environment_or_stdin(lucid, provisioned):
    _ok(lucid(*INIT, extra_env={"LUCID_PASSWORD": ROOT_PW}))

    lines = _ok(
        lucid(
            "link", "--fs", "media.acme", "--user", "root", "--password-stdin", stdin=ROOT_PW + "\n"
        )
    )

    assert lines[0] == "Filespace 'media.acme' linked as 'root'."


def test_link_status_and_unlink(lucid, provisioned):
    _ok(lucid(*INIT, "--password", ROOT_PW))
    assert _ok(lucid("status")) == ["Client state: Unlinked"]

    lines = _ok(lucid("link", "--fs", "media.acme", "--user", "root", "--password", ROOT_PW))

    assert lines == [
        "Filespace 'media.acme' linked as 'root'.",
        "Filespace mounted at /media/acme/media.",
    ]
    status = _ok(lucid("status"))
    assert status[0] == "Client state: Linked"
    assert "Filespace: media.acme" in status
    assert "User: root" in status
    assert _ok(lucid("list"))[1] == "media.acme  root  /media/acme/media"
    _fails(
        lucid("link", "--fs", "media.acme", "--user", "root", "--password", ROOT_PW),
        "already linked",
    )
    assert _ok(lucid("unlink")) == ["Filespace 'media.acme' unlinked."]
    assert _ok(lucid("status")) == ["Client state: Unlinked"]
    _fails(lucid("unlink"), "not linked")


def test_link_refuses_bad_passwords_unknown_users_and_uninitialized_filespaces(lucid, provisioned):
    _fails(
        lucid("link", "--fs", "media.acme", "--user", "root", "--password", ROOT_PW),
        "is not initialized",
    )
    _ok(lucid(*INIT, "--password", ROOT_PW))
    _fails(
        lucid("link", "--fs", "media.acme", "--user", "root", "--password", "wrong-one"),
        "Invalid user name or password.",
    )
    _fails(
        lucid("link", "--fs", "media.acme", "--user", "ghost", "--password", ROOT_PW),
        "Invalid user name or password.",
    )
    _fails(
        lucid("link", "--fs", "nope.acme", "--user", "root", "--password", ROOT_PW),
        "Filespace 'nope.acme' not found.",
    )
    assert _ok(lucid("status")) == ["Client state: Unlinked"]


def test_mount_unmount_and_cache(lucid, linked, tmp_path):
    assert _ok(lucid("unmount")) == ["Filespace unmounted."]
    _fails(lucid("unmount"), "not mounted")
    assert _ok(lucid("mount")) == ["Filespace mounted at /media/acme/media."]
    _fails(lucid("mount"), "already mounted")
    assert _ok(lucid("cache", "--on", "--size", "2048")) == ["Cache enabled with size 2048 MiB."]
    assert "Cache: on, 2048 MiB" in _ok(lucid("status"))
    assert _ok(lucid("cache", "--off")) == ["Cache disabled."]
    assert "Cache: off" in _ok(lucid("status"))
    _fails(lucid("cache", "--on"), "--on needs --size", code=2)
    assert lucid("cache", "--on", "--size", "-5").returncode == 2
    state = json.loads((tmp_path / "lucidsim-cli.json").read_text())
    assert ROOT_PW not in json.dumps(state)


def test_commands_that_need_a_linked_client_say_so(lucid):
    for args in (["mount"], ["unmount"], ["cache", "--off"], ["user", "--list"], ["snapshot"]):
        _fails(lucid(*args), "not linked to a filespace")


def test_users_are_created_listed_and_deleted_and_change_users_count(lucidsim, lucid, linked):
    created = lucid(
        "user", "--create", "alice", "--user-password", "alice-pass", "--user-email",
        "alice@example.com", "--password", ROOT_PW,
    )  # fmt: skip

    assert _ok(created) == ["User 'alice' created successfully."]
    assert "alice-pass" not in created.stdout
    assert lucidsim.api("GET", f"/filespaces/{linked['id']}").json()["usersCount"] == 1
    assert _ok(lucid("user", "--list")) == ["USER  EMAIL", "alice  alice@example.com"]
    _fails(lucid("user", "--create", "ALICE", "--password", ROOT_PW), "already exists")
    _fails(lucid("user", "--create", "bad name!", "--password", ROOT_PW), "User names use")
    _fails(lucid("user", "--create", "bob", "--password", "wrong-root"), "Invalid root password.")
    _fails(lucid("user", "--delete", "ghost", "--password", ROOT_PW), "User 'ghost' not found.")
    assert _ok(lucid("user", "--delete", "alice", "--password", ROOT_PW)) == [
        "User 'alice' deleted successfully."
    ]
    assert lucidsim.api("GET", f"/filespaces/{linked['id']}").json()["usersCount"] == 0


def test_a_created_user_can_link_with_their_own_password(lucid, linked):
    _ok(lucid("user", "--create", "Bob", "--user-password", "bob-pass-9", "--password", ROOT_PW))
    _ok(lucid("unlink"))

    lines = _ok(lucid("link", "--fs", "media.acme", "--user", "bob", "--password", "bob-pass-9"))

    assert lines[0] == "Filespace 'media.acme' linked as 'Bob'."


def test_snapshots_are_numbered_listed_and_deleted(lucid, linked):
    assert _ok(lucid("snapshot", "--create", "before upgrade", "--password", ROOT_PW)) == [
        "Snapshot with ID 1 created."
    ]
    assert _ok(lucid("snapshot", "--create", "--password", ROOT_PW)) == [
        "Snapshot with ID 2 created."
    ]

    listing = _ok(lucid("snapshot", "--list"))

    assert listing[0] == "ID  STATE  NAME  CREATED ON"
    assert listing[1].startswith("1  Active  before upgrade  ")
    assert listing[2].startswith("2  Active  snapshot-2  ")
    assert _ok(lucid("snapshot", "--delete", "1", "--password", ROOT_PW)) == [
        "Snapshot with ID 1 deleted."
    ]
    _fails(
        lucid("snapshot", "--delete", "1", "--password", ROOT_PW), "Snapshot with ID 1 not found."
    )
    _fails(lucid("snapshot", "--create", "x", "--password", "nope-nope"), "Invalid root password.")
    _fails(lucid("snapshot", "--create", "bad/name", "--password", ROOT_PW), "Snapshot names use")
    assert len(_ok(lucid("snapshot"))) == 2


def test_snapshot_schedules_are_created_listed_and_deleted(lucid, linked):
    created = lucid(
        "snapshot-schedule", "--create", "nightly", "--interval", "1d", "--retention", "7",
        "--password", ROOT_PW,
    )  # fmt: skip

    assert _ok(created) == ["Snapshot schedule 'nightly' created successfully."]
    assert _ok(lucid("snapshot-schedule", "--list")) == [
        "NAME  INTERVAL  RETENTION",
        "nightly  1d  7",
    ]
    _fails(
        lucid("snapshot-schedule", "--create", "hourly", "--interval", "1x", "--retention", "2",
              "--password", ROOT_PW),
        "Interval must be",
    )  # fmt: skip
    _fails(lucid("snapshot-schedule", "--create", "x", "--password", ROOT_PW), "--interval", code=2)
    _fails(
        lucid("snapshot-schedule", "--create", "nightly", "--interval", "2h", "--retention", "3",
              "--password", ROOT_PW),
        "already exists",
    )  # fmt: skip
    assert _ok(lucid("snapshot-schedule", "--delete", "nightly", "--password", ROOT_PW)) == [
        "Snapshot schedule 'nightly' deleted successfully."
    ]
    _fails(lucid("snapshot-schedule", "--delete", "nightly", "--password", ROOT_PW), "not found")


def test_an_unreachable_simulator_is_reported_on_stderr(lucid, provisioned):
    result = lucid(*INIT, "--password", ROOT_PW, extra_env={"LUCIDSIM_URL": "http://127.0.0.1:9"})

    _fails(result, "cannot reach the LucidLink service")
