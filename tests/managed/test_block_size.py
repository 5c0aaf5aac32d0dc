"""Block size: offered on both ways to initialize, validated, recorded, passed to init-s3."""

from pathlib import Path

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.audit.models import AuditEntry
from portal.filespaces import kit as kits
from portal.filespaces.managed_forms import BlockSizeForm
from provisioning import cli
from provisioning.managed import services as managed
from provisioning.managed import tasks as managed_tasks
from provisioning.managed.models import FilespaceInit
from provisioning.models import Filespace
from provisioning.rules import BLOCK_SIZES_KIB
from tests.managed.conftest import remote_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(managed_tasks.initialize_filespace, "delay", lambda pk: ids.append(pk))
    return ids


@pytest.fixture
def owner_of(member_factory, client):
    def login(filespace):
        owner = member_factory(role="owner", customer=filespace.customer)
        client.force_login(owner.user)
        return owner

    return login


def test_the_form_offers_lucidlinks_sizes_with_the_default_marked():
    rendered = str(BlockSizeForm()["block_size"])

    for size in BLOCK_SIZES_KIB:
        assert f'value="{size}"' in rendered
    assert "256 KiB (default)" in rendered
    empty = BlockSizeForm({})
    assert empty.is_valid() and empty.cleaned_data["block_size"] == 256


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.sampled_from([str(size) for size in BLOCK_SIZES_KIB]),
        st.text(max_size=20),
        st.integers().map(str),
    )
)
def test_the_form_accepts_only_the_offered_sizes(value):
    form = BlockSizeForm({"block_size": value})

    if value in {str(size) for size in BLOCK_SIZES_KIB} or value == "":
        assert form.is_valid(), form.errors
        assert form.cleaned_data["block_size"] in BLOCK_SIZES_KIB
    else:
        assert not form.is_valid()
        assert "Choose a block size of 64, 128, 256, 512, 1024 KiB." in form.errors["block_size"]


def test_the_portal_runs_init_s3_with_the_chosen_size_and_records_it(
    sim, provisioned, owner_of, client, sent, django_capture_on_commit_callbacks
):
    filespace = provisioned()
    owner_of(filespace)
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert 'id="portal-init-block-size"' in page and "fixed once the filespace" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("filespaces:initialize", args=[filespace.pk]), {"block_size": "1024"}
        )
    assert response.status_code == 302
    managed_tasks.initialize_filespace(sent[0])

    filespace.refresh_from_db()
    assert filespace.block_size_kib == 1024
    assert filespace.state == Filespace.State.ACTIVE
    assert remote_get(sim, filespace.remote_id)["blockSize"] == 1024
    entry = AuditEntry.objects.get(action="filespace.init_requested")
    assert entry.after == {"block_size_kib": 1024}
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "<dt>Block size</dt><dd>1024 KiB</dd>" in page


@pytest.mark.parametrize("hostile", ["100", "abc", "256; rm -rf /", "-1", "9" * 40, "1e3"])
def test_a_hostile_block_size_is_a_message_and_changes_nothing(
    provisioned, owner_of, client, sent, hostile
):
    filespace = provisioned()
    owner_of(filespace)

    for url in ("filespaces:initialize", "filespaces:self_initialize"):
        response = client.post(reverse(url, args=[filespace.pk]), {"block_size": hostile})
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "Choose a block size of 64, 128, 256, 512, 1024 KiB." in page

    filespace.refresh_from_db()
    assert filespace.block_size_kib is None and not filespace.root_password
    assert not FilespaceInit.objects.exists() and sent == []


def test_the_action_refuses_a_size_lucidlink_does_not_offer(provisioned, member_factory, sent):
    filespace = provisioned()
    owner = member_factory(role="owner", customer=filespace.customer)

    with pytest.raises(managed.OperationRefused, match="Choose a block size") as refused:
        managed.filespace_initialize_request(filespace=filespace, actor=owner.user, block_size=96)
    assert refused.value.code == "invalid"
    assert not FilespaceInit.objects.exists()


def test_self_initialization_records_the_size_and_the_kit_passes_it(
    sim, provisioned, owner_of, client, tmp_path
):
    filespace = provisioned()
    Filespace.objects.filter(pk=filespace.pk).update(storage_owner="customer")
    owner_of(filespace)

    client.post(reverse("filespaces:self_initialize", args=[filespace.pk]), {"block_size": "64"})

    filespace.refresh_from_db()
    assert filespace.block_size_kib == 64
    init_step = kits.kit_for(filespace, access_key="AK").by_key["init"]
    assert "--block-size 64 " in init_step.display()
    page = client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert "--block-size 64 --provider" in page


def test_the_cli_command_carries_the_block_size(fake_cli):
    log = fake_cli(
        """
        printf '%s\\n' "$@" > "$(dirname "$0")/args"
        echo "Filespace 'media.msp' initialized successfully."
        """
    )
    runner = cli.for_filespace("media.msp")

    runner.init_s3(
        root_password="Root-pw-9", endpoint="s3.example.net", https=True, access_key="AK",
        secret_key="SK", region="us-east-1", provider="AWS", block_size=512,
    )  # fmt: skip

    args = (Path(log).parent / "args").read_text().split("\n")
    at = args.index("--block-size")
    assert args[at + 1] == "512" and args[at + 2] == "--provider"


def test_lucidsim_refuses_a_size_it_does_not_know_and_stays_uninitialized(sim, provisioned):
    filespace = provisioned()
    runner = cli.for_filespace(filespace.qualified_name)
    arguments = dict(
        root_password="Root-pw-9", endpoint="e", https=True, access_key="AK", secret_key="SK",
        region=filespace.region, provider=filespace.provider,
    )  # fmt: skip

    with pytest.raises(cli.CliRejected, match="Block size must be one of 64, 128, 256, 512, 1024"):
        runner.init_s3(**arguments, block_size=100)
    assert remote_get(sim, filespace.remote_id)["status"] == "provisioned"
    runner.init_s3(**arguments, block_size=128)
    assert remote_get(sim, filespace.remote_id)["blockSize"] == 128
