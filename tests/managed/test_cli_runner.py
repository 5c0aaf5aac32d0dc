"""The `lucid` runner against the real CLI simulator, and against fake CLIs for the failures."""

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning import cli
from tests.managed.conftest import ROOT_PASSWORD, remote_get

pytestmark = pytest.mark.django_db


def test_snapshots_are_created_listed_and_deleted_through_the_real_cli(active):
    filespace = active()
    runner = cli.for_filespace(filespace.qualified_name)

    first = runner.snapshot_create(root_password=ROOT_PASSWORD, name="before (v2) edit")
    second = runner.snapshot_create(root_password=ROOT_PASSWORD)
    listed = runner.snapshot_list(root_password=ROOT_PASSWORD)

    assert (first, second) == (1, 2)
    assert [(s.id, s.state, s.name) for s in listed] == [
        (1, "Active", "before (v2) edit"),
        (2, "Active", "snapshot-2"),
    ]
    runner.snapshot_delete(root_password=ROOT_PASSWORD, snapshot_id=1)
    assert [s.id for s in runner.snapshot_list(root_password=ROOT_PASSWORD)] == [2]


def test_creating_and_deleting_a_user_changes_the_simulators_users_count(sim, active):
    filespace = active()
    runner = cli.for_filespace(filespace.qualified_name)

    created = runner.user_create(
        root_password=ROOT_PASSWORD, name="-dash.user@x", user_password="Pw-12345678"
    )

    assert created == "-dash.user@x"
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 1
    runner.user_delete(root_password=ROOT_PASSWORD, name="-dash.user@x")
    assert remote_get(sim, filespace.remote_id)["usersCount"] == 0


def test_schedules_are_created_and_deleted(active):
    filespace = active()
    runner = cli.for_filespace(filespace.qualified_name)

    runner.schedule_create(root_password=ROOT_PASSWORD, name="Nightly", interval="1d", retention=7)

    listed = runner.schedule_list(root_password=ROOT_PASSWORD)
    assert [(s.name, s.interval, s.retention) for s in listed] == [("Nightly", "1d", 7)]
    runner.schedule_delete(root_password=ROOT_PASSWORD, name="Nightly")
    assert runner.schedule_list(root_password=ROOT_PASSWORD) == []


def test_a_wrong_root_password_is_a_typed_error_and_never_logged(active, caplog):
    filespace = active()
    runner = cli.for_filespace(filespace.qualified_name)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(cli.WrongPassword) as raised:
        runner.snapshot_create(root_password="Not-the-password-99")

    assert "root password" in raised.value.message
    assert "Not-the-password-99" not in caplog.text
    assert "Not-the-password-99" not in repr(raised.value) + str(raised.value)


def test_an_unknown_filespace_is_filespace_not_found(sim):
    runner = cli.for_filespace("nosuch.msp")

    with pytest.raises(cli.FilespaceNotFound):
        runner.link_root(root_password=ROOT_PASSWORD)


def test_a_second_init_of_the_same_filespace_is_already_initialized(active):
    filespace = active()

    with pytest.raises(cli.AlreadyInitialized):
        cli.for_filespace(filespace.qualified_name).init_s3(
            root_password=ROOT_PASSWORD, endpoint="e", https=True, access_key="AK",
            secret_key="SK", region=filespace.region, provider=filespace.provider,
        )  # fmt: skip


def test_a_name_taken_at_lucidlink_is_a_conflict(active):
    filespace = active()
    runner = cli.for_filespace(filespace.qualified_name)
    runner.schedule_create(root_password=ROOT_PASSWORD, name="Hourly", interval="1h", retention=3)

    with pytest.raises(cli.Conflict) as raised:
        runner.schedule_create(
            root_password=ROOT_PASSWORD, name="hourly", interval="2h", retention=3
        )
    assert "already exists" in raised.value.message


def test_a_cli_that_hangs_is_stopped_by_the_timeout(fake_cli, settings):
    fake_cli("sleep 10\n")
    settings.LUCID_CLI_TIMEOUT = 1

    with pytest.raises(cli.CliTimeout) as raised:
        cli.for_filespace("fs.msp").snapshot_create(root_password=ROOT_PASSWORD)
    assert "did not answer within 1 seconds" in raised.value.message


def test_a_missing_binary_is_unavailable(settings, tmp_path):
    settings.LUCID_CLI_PATH = str(tmp_path / "no-such-lucid")
    settings.LUCID_CLI_STATE_DIR = tmp_path / "state"

    with pytest.raises(cli.CliUnavailable) as raised:
        cli.for_filespace("fs.msp").status()
    assert "not available" in raised.value.message


def test_options_the_cli_refuses_are_bad_input_not_the_customers_fault(fake_cli):
    fake_cli('echo "usage: lucid [-h] COMMAND" >&2; echo "lucid: error: bad flag" >&2; exit 2\n')

    with pytest.raises(cli.BadInput) as raised:
        cli.for_filespace("fs.msp").status()
    assert "did not accept the options the portal sent" in raised.value.message


def test_output_the_runner_cannot_read_is_an_output_error(fake_cli):
    fake_cli('echo "Client state: Linked"; echo "Filespace: fs.msp"; echo "Snapshot made"\n')

    with pytest.raises(cli.CliOutputError):
        cli.for_filespace("fs.msp").snapshot_create(root_password=ROOT_PASSWORD)


def test_the_root_password_goes_on_stdin_never_on_the_command_line(fake_cli, tmp_path):
    argv_log = tmp_path / "argv.log"
    fake_cli(f"""
        echo "$@" >> {argv_log}
        case "$1" in
          status) echo "Client state: Linked"; echo "Filespace: fs.msp";;
          snapshot) read -r pw; [ "$pw" = "{ROOT_PASSWORD}" ] || exit 9
                    echo "Snapshot with ID 7 created.";;
        esac
    """)

    assert cli.for_filespace("fs.msp").snapshot_create(root_password=ROOT_PASSWORD) == 7
    logged = argv_log.read_text()
    assert "snapshot --create --password-stdin" in logged
    assert ROOT_PASSWORD not in logged


def test_secrets_the_cli_echoes_back_are_scrubbed_from_errors_and_logs(fake_cli, caplog):
    fake_cli("""
        case "$1" in
          status) echo "Client state: Linked"; echo "Filespace: fs.msp";;
          *) echo "Error: bad password $(cat) and $4" >&2; exit 1;;
        esac
    """)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(cli.CliRejected) as raised:
        cli.for_filespace("fs.msp").user_create(
            root_password=ROOT_PASSWORD, name="ann", user_password="User-secret-42"
        )

    text = raised.value.message + raised.value.detail + caplog.text
    assert "[redacted]" in text
    assert ROOT_PASSWORD not in text
    assert "User-secret-42" not in text


def test_the_snapshot_table_is_parsed_with_spaces_in_names():
    output = "ID  STATE  NAME  CREATED ON\n3  Active  my  odd (name)  2026-11-26 10:00:00\n"

    (snapshot,) = cli.parse_snapshot_list(output)

    assert (snapshot.id, snapshot.name, snapshot.created) == (
        3,
        "my  odd (name)",
        "2026-11-26 10:00:00",
    )


def test_a_table_without_its_header_is_unreadable():
    with pytest.raises(cli.CliOutputError):
        cli.parse_snapshot_list("3  Active  x  2026-11-26 10:00:00\n")


snapshot_names = (
    st.text(alphabet="abcXYZ019 -_()", min_size=1, max_size=40).map(str.strip).filter(bool)
)


@given(st.lists(st.tuples(st.integers(1, 10**6), snapshot_names), max_size=5))
def test_any_listed_snapshot_table_parses_back_to_its_rows(rows):
    lines = ["ID  STATE  NAME  CREATED ON"]
    for snapshot_id, name in rows:
        lines.append(f"{snapshot_id}  Active  {name}  2026-01-02 03:04:05")

    parsed = cli.parse_snapshot_list("\n".join(lines) + "\n")

    assert [(s.id, s.name) for s in parsed] == [(i, n) for i, n in rows]


def test_scrubbing_replaces_whole_secret_arguments_and_leaves_other_text_readable():
    call = cli.Call(
        ["lucid", "init-s3", "--fs", "bench.msp", "--secret-key", "s", "--password", "Root-pw-9"],
        secrets=["s", "Root-pw-9"],
    )

    assert call.shown() == (
        "lucid init-s3 --fs bench.msp --secret-key [redacted] --password [redacted]"
    )
    assert cli.scrub("Error: Root-pw-9Root-pw-9 is wrong", ["Root-pw-9", "Root"]) == (
        "Error: [redacted][redacted] is wrong"
    )
