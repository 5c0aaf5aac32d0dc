import re

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_plan(plan_factory):
    return plan_factory(
        slug="byo",
        storage_owner="customer",
        subscription_type="custom",
        provider="AWS",
        allowed_regions=["eu-west-1"],
    )


def _page(client, filespace, name="filespaces:detail"):
    return client.get(reverse(name, args=[filespace.pk])).content.decode()


def test_a_new_filespace_shows_its_progress_and_polls_for_updates(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(customer=owner.customer, state="requested")
    page = _page(owner_client, filespace)
    assert 'hx-trigger="every 3s"' in page
    assert reverse("filespaces:progress", args=[filespace.pk]) in page
    assert re.search(r'timeline-done">.*?Order placed', page, re.S)
    assert re.search(r'timeline-current">.*?Creating the filespace', page, re.S)
    assert "Connect" not in page


def test_the_progress_partial_follows_the_state_without_a_reload(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(
        customer=owner.customer, state="provisioning", created_remote_at=timezone.now()
    )
    partial = _page(owner_client, filespace, "filespaces:progress")
    assert "<html" not in partial
    assert re.search(r'timeline-current">.*?Setting up storage', partial, re.S)
    filespace.state = "provisioned"
    filespace.provisioned_at = timezone.now()
    filespace.domain_name = "msp-demo"
    filespace.save()
    partial = _page(owner_client, filespace, "filespaces:progress")
    assert "hx-trigger" not in partial  # settled: polling stops
    assert re.search(r'timeline-done">.*?Ready to connect', partial, re.S)
    assert "lucid link --fs" in partial


def test_a_failed_filespace_says_what_happened_and_what_to_do(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(
        customer=owner.customer,
        state="error",
        last_error="Filespace creation is currently disabled in the selected region.",
    )
    page = _page(owner_client, filespace)
    assert "could not be created" in page
    assert "disabled in the selected region" in page
    assert "What to do next" in page
    assert "timeline-failed" in page
    assert "hx-trigger" not in page


def test_a_ready_lucidlink_filespace_gets_link_mount_and_cache_commands(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(
        customer=owner.customer,
        state="provisioned",
        domain_name="msp-demo",
        provisioned_at=timezone.now(),
    )
    page = _page(owner_client, filespace)
    fs = f"{owner.customer.name_prefix}-{filespace.order.name}.msp-demo"
    assert (
        f"lucid link --fs {fs} --user root --password &#x27;&lt;filespace user password&gt;&#x27;"
        in page
    )
    assert "lucid mount" in page
    assert "lucid cache --on --size 10240" in page
    assert "init-s3" not in page
    assert page.count("data-copy-target") == 3


def test_an_own_storage_filespace_gets_init_s3_with_everything_but_secrets(
    owner_client, owner, filespace_factory, own_plan
):
    filespace = filespace_factory(
        customer=owner.customer,
        plan=own_plan,
        state="provisioned",
        domain_name="msp-demo",
        bucket="acme-bucket",
        region="eu-west-1",
        root_password="root-pw-never-shown",
    )
    filespace.order.access_key = "AKIAEXAMPLE"
    filespace.order.secret_key = "bucket-secret-never-shown"
    filespace.order.save()
    page = _page(owner_client, filespace)
    root, secret = (
        "&#x27;&lt;filespace root password&gt;&#x27;",
        "&#x27;&lt;bucket secret key&gt;&#x27;",
    )
    assert (
        f"lucid init-s3 --fs {filespace.qualified_name} --password {root} "
        "--https --endpoint s3.eu-west-1.amazonaws.com --access-key AKIAEXAMPLE "
        f"--secret-key {secret} --region eu-west-1 --bucket-name acme-bucket --provider AWS"
    ) in page
    for response in (
        page,
        _page(owner_client, filespace, "filespaces:script_sh"),
        _page(owner_client, filespace, "filespaces:script_ps1"),
    ):
        assert "never-shown" not in response


def test_the_scripts_download_as_files(owner_client, owner, filespace_factory):
    filespace = filespace_factory(customer=owner.customer, state="active", domain_name="msp-demo")
    sh = owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk]))
    ps1 = owner_client.get(reverse("filespaces:script_ps1", args=[filespace.pk]))
    assert sh["Content-Disposition"] == f'attachment; filename="connect-{filespace.remote_name}.sh"'
    assert sh.content.startswith(b"#!/usr/bin/env bash\n")
    assert ps1["Content-Disposition"].endswith('.ps1"')
    assert (
        f"'{filespace.qualified_name}'".encode() in ps1.content
        or filespace.qualified_name.encode() in ps1.content
    )
    assert b"Invoke-Lucid { & $Lucid 'link' '--fs'" in ps1.content


def test_no_scripts_before_the_filespace_is_ready(owner_client, owner, filespace_factory):
    filespace = filespace_factory(customer=owner.customer, state="provisioning")
    assert owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk])).status_code == 404


def test_the_dashboard_lists_filespaces_with_their_status(owner_client, owner, filespace_factory):
    filespace_factory(customer=owner.customer, state="active", name="alpha", domain_name="msp-demo")
    filespace_factory(customer=owner.customer, state="error", name="beta")
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert 'badge-ok">Active' in page
    assert 'badge-bad">Error' in page
    assert "Usage not yet collected" in page


def test_the_dashboard_has_an_empty_state(owner_client):
    assert "No filespaces yet" in owner_client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize("count", [1, 50])
def test_dashboard_queries_do_not_grow_with_filespaces(
    owner_client, owner, filespace_factory, plan_factory, django_assert_num_queries, count
):
    plans = [plan_factory(), plan_factory()]
    for index in range(count):
        filespace_factory(customer=owner.customer, plan=plans[index % 2], state="active")
    owner_client.get(reverse("dashboard"))  # warm the session
    with django_assert_num_queries(QUERIES["dashboard"]):
        owner_client.get(reverse("dashboard"))


@pytest.mark.parametrize("count", [1, 50])
def test_orders_list_queries_do_not_grow_with_filespaces(
    owner_client, owner, filespace_factory, django_assert_num_queries, count
):
    for _ in range(count):
        filespace_factory(customer=owner.customer)
    owner_client.get(reverse("orders:list"))
    with django_assert_num_queries(QUERIES["orders:list"]):
        owner_client.get(reverse("orders:list"))


# Session, user, current membership, the switcher's memberships, then the page's own queries.
QUERIES = {"dashboard": 6, "orders:list": 5}


def test_an_owner_deletes_a_filespace_after_typing_its_name(
    owner_client, owner, filespace_factory, django_capture_on_commit_callbacks
):
    filespace = filespace_factory(customer=owner.customer, state="active", remote_id="fs-1")
    url = reverse("filespaces:delete", args=[filespace.pk])
    page = owner_client.post(url, {"confirm": "wrong"}, follow=True).content.decode()
    assert f"Type {filespace.remote_name} to confirm" in page
    filespace.refresh_from_db()
    assert filespace.state == "active"
    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(url, {"confirm": filespace.remote_name})
    filespace.refresh_from_db()
    assert filespace.state == "deleting"
    assert len(callbacks) == 1  # the delete task is sent once the change is committed
    assert "being deleted" in _page(owner_client, filespace)


def test_a_member_cannot_delete_a_filespace(client, member_factory, filespace_factory):
    member = member_factory(role="member")
    filespace = filespace_factory(customer=member.customer, state="active")
    client.force_login(member.user)
    assert "Delete this filespace" not in _page(client, filespace)
    client.post(
        reverse("filespaces:delete", args=[filespace.pk]), {"confirm": filespace.remote_name}
    )
    filespace.refresh_from_db()
    assert filespace.state == "active"


def test_an_order_awaiting_approval_can_be_withdrawn(owner_client, owner, plan_factory):
    from portal.orders.services import order_place

    plan = plan_factory(requires_approval=True)
    order = order_place(
        customer=owner.customer,
        plan=plan,
        name="later",
        provider="IBM",
        region="us-east",
        idempotency_key="w" * 32,
    )
    owner_client.post(reverse("orders:cancel", args=[order.pk]))
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_a_line_break_in_the_msp_name_cannot_escape_a_script_comment(
    owner_client, owner, filespace_factory, settings
):
    settings.MSP_NAME = "Evil\nrm -rf ~\n"
    filespace = filespace_factory(customer=owner.customer, state="active", domain_name="msp-demo")
    script = owner_client.get(reverse("filespaces:script_sh", args=[filespace.pk])).content.decode()
    assert "\nrm -rf" not in script
    assert "(Evil rm -rf ~)" in script
