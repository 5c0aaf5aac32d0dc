"""Managed `lucid init-s3`: requested by a customer manager, run once by a worker task."""

import pytest

from portal.audit.models import AuditEntry
from provisioning import cli
from provisioning.managed import services as managed
from provisioning.managed import tasks as managed_tasks
from provisioning.managed.models import FilespaceInit
from provisioning.models import Filespace, ProvisioningEvent
from tests.fixtures.worker import wait_until
from tests.managed.conftest import remote_get

pytestmark = pytest.mark.django_db

State = Filespace.State


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Init task sends recorded instead of reaching a broker; tests deliver them by hand."""
    ids: list[int] = []
    monkeypatch.setattr(managed_tasks.initialize_filespace, "delay", lambda pk: ids.append(pk))
    return ids


def request_init(filespace, owner_user=None) -> FilespaceInit:
    return managed.filespace_initialize_request(filespace=filespace, actor=owner_user)


def test_the_init_task_is_sent_only_after_the_request_commits(
    provisioned, sent, django_capture_on_commit_callbacks
):
    filespace = provisioned()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        init = request_init(filespace)
        assert sent == []

    for callback in callbacks:
        callback()
    assert sent == [init.pk]


def test_a_delivered_init_makes_the_filespace_active_with_an_encrypted_root_password(
    sim, provisioned, sent, django_capture_on_commit_callbacks
):
    filespace = provisioned()
    with django_capture_on_commit_callbacks(execute=True):
        init = request_init(filespace)

    managed_tasks.initialize_filespace(init.pk)

    filespace.refresh_from_db()
    assert filespace.state == State.ACTIVE
    assert remote_get(sim, filespace.remote_id)["status"] == "initialized"
    assert len(filespace.root_password) >= 20
    assert FilespaceInit.objects.get(pk=init.pk).state == FilespaceInit.State.DONE
    kinds = list(filespace.events.values_list("kind", flat=True))
    assert kinds[-1] == ProvisioningEvent.Kind.ACTIVE
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"filespace.init_requested", "filespace.initialized"} <= actions


def test_the_root_password_is_stored_encrypted_in_the_database(provisioned, sent):
    from django.db import connection

    filespace = provisioned()
    request_init(filespace)
    filespace.refresh_from_db()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT root_password FROM provisioning_filespace WHERE id = %s", [filespace.pk]
        )
        (raw,) = cursor.fetchone()
    assert filespace.root_password
    assert filespace.root_password not in raw


def test_a_second_delivery_runs_init_s3_no_more(sim, provisioned, sent):
    filespace = provisioned()
    init = request_init(filespace)

    managed_tasks.initialize_filespace(init.pk)
    managed_tasks.initialize_filespace(init.pk)

    assert sim.count("cli.init-s3") == 1
    assert FilespaceInit.objects.get(pk=init.pk).attempts == 1


def test_an_init_that_crashed_after_init_s3_is_recognised_as_done(sim, provisioned, sent):
    filespace = provisioned()
    init = request_init(filespace)
    filespace.refresh_from_db()
    # The earlier attempt ran init-s3 with the stored password, then died before recording it.
    cli.for_filespace(filespace.qualified_name).init_s3(
        root_password=filespace.root_password, endpoint="e", https=True, access_key="a",
        secret_key="s", region=filespace.region, provider=filespace.provider,
    )  # fmt: skip

    managed_tasks.initialize_filespace(init.pk)

    filespace.refresh_from_db()
    assert filespace.state == State.ACTIVE
    assert FilespaceInit.objects.get(pk=init.pk).state == FilespaceInit.State.DONE


def test_a_filespace_initialized_by_someone_else_fails_the_init_and_stays_provisioned(
    sim, provisioned, sent
):
    filespace = provisioned()
    cli.for_filespace(filespace.qualified_name).init_s3(
        root_password="Somebody-elses-pw-1", endpoint="e", https=True, access_key="a",
        secret_key="s", region=filespace.region, provider=filespace.provider,
    )  # fmt: skip
    init = request_init(filespace)

    managed_tasks.initialize_filespace(init.pk)

    init.refresh_from_db()
    filespace.refresh_from_db()
    assert init.state == FilespaceInit.State.FAILED
    assert "initialized outside the portal" in init.last_error
    assert filespace.state == State.PROVISIONED


def test_a_hanging_cli_releases_the_init_for_a_later_retry(provisioned, sent, fake_cli, settings):
    fake_cli("sleep 10\n")
    settings.LUCID_CLI_TIMEOUT = 1
    filespace = provisioned()
    init = request_init(filespace)

    delay = managed.filespace_init_run(init=managed.filespace_init_claim(init_id=init.pk))

    init.refresh_from_db()
    filespace.refresh_from_db()
    assert delay is not None and delay > 0
    assert init.state == FilespaceInit.State.REQUESTED
    assert "did not answer within 1 seconds" in init.last_error
    assert filespace.state == State.PROVISIONED


def test_init_gives_up_after_its_attempts_with_the_reason(provisioned, sent, fake_cli):
    fake_cli('echo "Error: cannot reach the LucidLink service at x" >&2; exit 1\n')
    filespace = provisioned()
    init = request_init(filespace)
    FilespaceInit.objects.filter(pk=init.pk).update(attempts=managed.INIT_MAX_ATTEMPTS - 1)

    assert managed.filespace_init_run(init=managed.filespace_init_claim(init_id=init.pk)) is None

    init.refresh_from_db()
    assert init.state == FilespaceInit.State.FAILED
    assert "after 6 attempts" in init.last_error


def test_a_failed_init_can_be_requested_again_and_keeps_the_same_password(
    provisioned, sent, django_capture_on_commit_callbacks
):
    filespace = provisioned()
    with django_capture_on_commit_callbacks(execute=True):
        init = request_init(filespace)
    FilespaceInit.objects.filter(pk=init.pk).update(state=FilespaceInit.State.FAILED)
    filespace.refresh_from_db()
    password = filespace.root_password

    with django_capture_on_commit_callbacks(execute=True):
        again = request_init(filespace)

    filespace.refresh_from_db()
    assert again.pk == init.pk
    assert again.state == FilespaceInit.State.REQUESTED
    assert filespace.root_password == password
    assert sent == [init.pk, init.pk]


def test_an_init_already_requested_is_not_requested_twice(
    provisioned, sent, django_capture_on_commit_callbacks
):
    filespace = provisioned()
    with django_capture_on_commit_callbacks(execute=True):
        request_init(filespace)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(managed.OperationRefused, match="already being initialized"),
    ):
        request_init(filespace)
    assert len(sent) == 1


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_a_customer_that_is_not_active_cannot_request_init(provisioned, sent, status):
    filespace = provisioned()
    filespace.customer.status = status
    filespace.customer.save()

    with pytest.raises(managed.OperationRefused, match="not active"):
        request_init(filespace)
    assert not FilespaceInit.objects.exists()
    assert sent == []


def test_only_a_provisioned_filespace_can_be_initialized(filespace_factory, sent):
    filespace = filespace_factory(state=State.PROVISIONING)

    with pytest.raises(managed.OperationRefused, match="ready to initialize"):
        request_init(filespace)


def test_customer_storage_is_initialized_with_the_orders_keys_which_never_reach_logs(
    provisioned, sent, fake_cli, tmp_path, caplog
):
    argv_log = tmp_path / "argv.log"
    fake_cli(f"""
        echo "$@" >> {argv_log}
        echo "Filespace '$3' initialized successfully."
    """)
    filespace = provisioned()
    Filespace.objects.filter(pk=filespace.pk).update(
        storage_owner="customer", provider="Other", endpoint="https://s3.acme.test:9000",
        bucket="acme-bucket",
    )  # fmt: skip
    order = filespace.order
    order.access_key, order.secret_key = "AKIA-ACME", "Bucket-secret-key-77"
    order.save()
    init = request_init(Filespace.objects.get(pk=filespace.pk))
    caplog.set_level("DEBUG")

    managed_tasks.initialize_filespace(init.pk)

    argv = argv_log.read_text()
    assert "--https --endpoint s3.acme.test:9000 --access-key AKIA-ACME" in argv
    assert "--secret-key Bucket-secret-key-77" in argv
    assert "--bucket-name acme-bucket --block-size 256 --provider Other" in argv
    assert "Bucket-secret-key-77" not in caplog.text
    assert FilespaceInit.objects.get(pk=init.pk).state == FilespaceInit.State.DONE


@pytest.mark.worker
def test_a_real_worker_initializes_the_filespace_and_it_becomes_active(
    sim, provisioned, celery_worker_factory, tmp_path
):
    filespace = provisioned()
    celery_worker_factory(
        env={
            "LUCIDLINK_API_URL": sim.api_url,
            "LUCIDLINK_TOKEN_URL": sim.token_url,
            "LUCIDLINK_CLIENT_ID": sim.client_id,
            "LUCIDLINK_CLIENT_SECRET": sim.client_secret,
            "LUCID_CLI_PATH": sim.cli_path,
            "LUCID_CLI_STATE_DIR": str(tmp_path / "worker-cli"),
            "LUCIDSIM_URL": sim.url,
        }
    )

    init = request_init(filespace)

    wait_until(lambda: Filespace.objects.get(pk=filespace.pk).state == State.ACTIVE, timeout=60)
    assert FilespaceInit.objects.get(pk=init.pk).state == FilespaceInit.State.DONE
    assert remote_get(sim, filespace.remote_id)["status"] == "initialized"
    assert sim.count("cli.init-s3") == 1


def test_the_reconciler_resends_only_inits_whose_message_may_be_lost(provisioned, sent):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(hours=1)
    stale, running_dead, running_live, done = (
        request_init(provisioned(name=f"fs{i}")) for i in range(4)
    )
    FilespaceInit.objects.filter(pk=stale.pk).update(next_attempt_at=long_ago)
    FilespaceInit.objects.filter(pk=running_dead.pk).update(
        state=FilespaceInit.State.RUNNING, lease_until=long_ago
    )
    FilespaceInit.objects.filter(pk=running_live.pk).update(
        state=FilespaceInit.State.RUNNING, lease_until=timezone.now() + timedelta(minutes=5)
    )
    FilespaceInit.objects.filter(pk=done.pk).update(
        state=FilespaceInit.State.DONE, next_attempt_at=long_ago
    )
    sent.clear()

    assert managed_tasks.reconcile_initializations() == {"inits": 2}
    assert sorted(sent) == sorted([stale.pk, running_dead.pk])


@pytest.mark.worker
def test_a_lost_init_message_is_recovered_by_the_beat_reconciler(
    sim, provisioned, celery_worker_factory, tmp_path, monkeypatch
):
    filespace = provisioned()
    monkeypatch.setattr(managed_tasks.initialize_filespace, "delay", lambda pk: None)
    init = request_init(filespace)  # The message never leaves.
    celery_worker_factory(
        env={
            "LUCIDLINK_API_URL": sim.api_url,
            "LUCIDLINK_TOKEN_URL": sim.token_url,
            "LUCIDLINK_CLIENT_ID": sim.client_id,
            "LUCIDLINK_CLIENT_SECRET": sim.client_secret,
            "LUCID_CLI_PATH": sim.cli_path,
            "LUCID_CLI_STATE_DIR": str(tmp_path / "worker-cli"),
            "LUCIDSIM_URL": sim.url,
            "PROVISIONING_RECONCILE_INTERVAL": "1",
            "PROVISIONING_RECONCILE_GRACE": "1",
        },
        beat=True,
    )

    wait_until(lambda: Filespace.objects.get(pk=filespace.pk).state == State.ACTIVE, timeout=60)
    assert FilespaceInit.objects.get(pk=init.pk).state == FilespaceInit.State.DONE
    assert sim.count("cli.init-s3") == 1
