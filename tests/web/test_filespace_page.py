import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from provisioning.managed.models import FilespaceInit, FilespaceUser

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
    assert "hx-trigger" not in partial  # settled: polling stops until someone acts
    assert re.search(r'timeline-done">.*?Ready to connect', partial, re.S)
    assert "Step 1 of 6: Initialize the filespace" in partial
    assert "Initialize for me" in partial
    assert "lucid link --fs" not in partial  # the kit waits until it can be followed


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


def test_an_active_filespace_guides_through_link_mount_and_cache_as_the_persons_own_user(
    owner_client, owner, filespace_factory
):
    filespace = filespace_factory(
        customer=owner.customer,
        state="active",
        domain_name="msp-demo",
        provisioned_at=timezone.now(),
        root_password="root-pw-never-shown",
    )
    fs = f"{owner.customer.name_prefix}-{filespace.order.name}.msp-demo"
    page = _page(owner_client, filespace)
    assert "Step 2 of 6: Your filespace user" in page
    assert "lucid link" not in page

    FilespaceUser.objects.create(filespace=filespace, name="dana", member=owner.user)
    page = _page(owner_client, filespace)
    assert "Step 3 of 6: Install the LucidLink client" in page
    assert "lucid link" not in page  # one step at a time
    link = owner_client.get(reverse("filespaces:detail", args=[filespace.pk]), {"step": "link"})
    link = link.content.decode()
    assert (
        f"lucid link --fs {fs} --user dana --password &#x27;&lt;filespace user password&gt;&#x27;"
        in link
    )
    assert "--user root" not in link
    assert "lucid mount" not in link
    mount = owner_client.get(reverse("filespaces:detail", args=[filespace.pk]), {"step": "mount"})
    assert "lucid mount" in mount.content.decode()
    cache = owner_client.get(reverse("filespaces:detail", args=[filespace.pk]), {"step": "cache"})
    assert "lucid cache --on --size 10240" in cache.content.decode()
    for response in (link, mount.content.decode(), cache.content.decode()):
        assert "init-s3" not in response
        assert "never-shown" not in response
    script = _page(owner_client, filespace, "filespaces:script_sh")
    assert 'LUCID_USER="${LUCID_USER:-dana}"' in script


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
    # A manager chose to run init-s3 themselves (the root password was shown to them once).
    FilespaceInit.objects.create(filespace=filespace, state=FilespaceInit.State.BY_CUSTOMER)
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
        f"--secret-key {secret} --region eu-west-1 --bucket-name acme-bucket "
        "--block-size 256 --provider AWS"
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


def _measured_filespace(filespace_factory, customer, plan, number: int):
    """An active filespace with hourly usage samples for June 2026 up to the 16th."""
    from tests.billing.conftest import at, write_samples

    filespace = filespace_factory(
        customer=customer,
        plan=plan,
        state="active",
        remote_id=f"remote-{number}",
        provisioned_at=at("2026-01-01T00:00"),
        active_at=at("2026-01-01T00:00"),
    )
    write_samples(filespace, "2026-06-01T00:00", "2026-06-16T12:00", 10**12)
    return filespace


@time_machine.travel("2026-06-16T12:00:00Z", tick=False)
def test_billing_roles_see_usage_and_cost_to_date_on_the_dashboard(
    owner_client, owner, filespace_factory, plan_factory
):
    plan = plan_factory(price_per_unit_month=Decimal("0.02"), billing_unit="GB")
    _measured_filespace(filespace_factory, owner.customer, plan, 1)
    filespace_factory(customer=owner.customer, plan=plan, state="requested", name="fresh")
    page = owner_client.get(reverse("dashboard")).content.decode()
    # 1 TB for 15.5 of 30 days: 516.666667 GB-month at 0.02 = 10.33.
    assert "516.667 GB-month" in page
    assert "USD 10.33" in page
    assert "Usage not yet collected" in page  # the filespace still being created


@time_machine.travel("2026-06-16T12:00:00Z", tick=False)
@pytest.mark.parametrize("url", ["dashboard", "filespaces:list"])
@pytest.mark.parametrize("count", [1, 50])
def test_dashboard_and_filespace_list_queries_do_not_grow_with_filespaces(
    owner_client, owner, filespace_factory, plan_factory, django_assert_num_queries, count, url
):
    plans = [plan_factory(), plan_factory()]
    for index in range(count):
        _measured_filespace(filespace_factory, owner.customer, plans[index % 2], index)
    owner_client.get(reverse(url))  # warm the session
    with django_assert_num_queries(QUERIES[url]):
        page = owner_client.get(reverse(url)).content.decode()
    shown = min(count, 10 if url == "dashboard" else 50)
    assert page.count("GB-month") == shown


@time_machine.travel("2026-06-16T12:00:00Z", tick=False)
def test_the_dashboard_shows_those_needing_attention_then_the_largest_and_links_to_all(
    owner_client, owner, filespace_factory, plan_factory
):
    from tests.billing.conftest import at, write_samples

    plan = plan_factory()
    broken = filespace_factory(customer=owner.customer, plan=plan, state="error", name="broken")
    sizes = {}
    for index in range(14):
        filespace = filespace_factory(
            customer=owner.customer,
            plan=plan,
            state="active",
            provisioned_at=at("2026-01-01T00:00"),
            active_at=at("2026-01-01T00:00"),
        )
        # 1 to 14 TB, not in the order of creation or of name.
        sizes[filespace.remote_name] = (index * 5) % 14 + 1
        write_samples(
            filespace, "2026-06-01T00:00", "2026-06-16T12:00", sizes[filespace.remote_name] * 10**12
        )

    page = owner_client.get(reverse("dashboard")).content.decode()

    shown = re.findall(r'<a href="/filespaces/\d+/">([^<]+)</a>', page)
    largest = sorted(sizes, key=sizes.get, reverse=True)[:9]
    assert shown == [broken.remote_name, *largest]
    assert "15 filespaces: 14 active, <strong>1 needs attention</strong>." in page
    assert f'<a href="{reverse("filespaces:list")}">All 15 filespaces</a>' in page


@pytest.mark.parametrize("count", [1, 50])
def test_orders_list_queries_do_not_grow_with_filespaces(
    owner_client, owner, filespace_factory, django_assert_num_queries, count
):
    for _ in range(count):
        filespace_factory(customer=owner.customer)
    owner_client.get(reverse("orders:list"))
    with django_assert_num_queries(QUERIES["orders:list"]):
        owner_client.get(reverse("orders:list"))


def _order_not_yet_provisioning(customer, plan, name: str):
    from portal.orders.models import Order

    return Order.objects.create(
        customer=customer, plan=plan, name=name, remote_name=f"{customer.name_prefix}-{name}",
        provider=plan.provider, region=(plan.allowed_regions or ["us-east"])[0],
        state=Order.State.AWAITING_APPROVAL, idempotency_key=f"waiting-{name}",
    )  # fmt: skip


@pytest.mark.parametrize("count", [1, 20])
def test_the_dashboard_lists_this_customers_orders_not_yet_provisioning_in_constant_queries(
    owner_client, owner, customer_factory, plan_factory, filespace_factory,
    django_assert_num_queries, count,
):  # fmt: skip
    waiting = [
        _order_not_yet_provisioning(owner.customer, plan_factory(), f"waiting{index}")
        for index in range(count)
    ]
    provisioning = filespace_factory(customer=owner.customer, name="underway").order
    theirs = _order_not_yet_provisioning(customer_factory(), plan_factory(), "theirs")
    owner_client.get(reverse("dashboard"))  # warm the session
    # As QUERIES["dashboard"], and billing reads the unmeasured filespace's plan history and
    # samples (2 more); the open orders, each with its plan, are one query however many.
    with django_assert_num_queries(11):
        page = owner_client.get(reverse("dashboard")).content.decode()
    section = page.split('id="orders-heading"', 1)[1].split("</section>", 1)[0]
    listed = re.findall(r">([^<>]+)</a> · ([^<>]+) ·", section)
    assert sorted(listed) == sorted((order.remote_name, order.plan.name) for order in waiting)
    assert provisioning.remote_name not in section and theirs.remote_name not in page


# Session, user, current membership, the switcher's memberships, then the page's own queries:
# dashboard, the filespaces' counts and first rows, open orders, and billing's fixed set for
# usage and cost to date (plan history and month-to-date summaries); the filespace list, its
# count and page and billing's set; orders, the count and the page.
QUERIES = {"dashboard": 9, "filespaces:list": 8, "orders:list": 6}


@pytest.mark.parametrize("count", [1, 50])
def test_team_page_queries_do_not_grow_with_members(
    owner_client, owner, member_factory, django_assert_num_queries, count
):
    from portal.customers.models import Invitation

    for index in range(count):
        member_factory(role="member", customer=owner.customer)
        Invitation.objects.create(
            customer=owner.customer,
            email=f"invitee{index}@example.com",
            token_hash=f"{index:064d}",
            invited_by=owner.user,
            expires_at="2999-01-01T00:00:00Z",
        )
    owner_client.get(reverse("customers:team"))
    with django_assert_num_queries(6):
        page = owner_client.get(reverse("customers:team"))
    assert page.content.decode().count("<td>invitee") == count


def test_an_approved_order_shows_the_approval_on_the_timeline_and_the_waiting_page_moves_on(
    owner_client, owner, plan_factory, user_factory
):
    from provisioning.services.ordering import order_approve, order_place

    plan = plan_factory(requires_approval=True)
    order = order_place(
        customer=owner.customer,
        plan=plan,
        name="approved",
        provider="IBM",
        region="us-east",
        idempotency_key="a" * 32,
    )
    waiting = owner_client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'hx-trigger="every 10s"' in waiting
    order_approve(order=order, acting_user=user_factory(is_staff=True, mfa=True))
    polled = owner_client.get(reverse("orders:detail", args=[order.pk]), HTTP_HX_REQUEST="true")
    filespace = order.filespace
    assert polled["HX-Redirect"] == reverse("filespaces:detail", args=[filespace.pk])
    page = _page(owner_client, filespace)
    assert re.search(r'timeline-done">.*?Order placed.*?timeline-done">.*?Approved', page, re.S)


def test_the_filespace_and_orders_lists_show_fifty_rows_a_page(
    owner_client, owner, filespace_factory
):
    for index in range(55):
        filespace_factory(customer=owner.customer, name=f"fs{index:02d}")

    first = owner_client.get(reverse("filespaces:list")).content.decode()
    second = owner_client.get(reverse("filespaces:list"), {"page": 2}).content.decode()
    orders = owner_client.get(reverse("orders:list"), {"page": 2}).content.decode()

    assert first.count('href="/filespaces/') == 50 and "Page 1 of 2" in first
    assert second.count('href="/filespaces/') == 5 and "Page 2 of 2" in second
    assert orders.count('href="/orders/') >= 5 and "Page 2 of 2" in orders


def test_lists_of_filespaces_leave_the_secrets_they_do_not_show_encrypted(owner, filespace_factory):
    # Decrypting each row's root password and its order's keys cost more than rating it; a list
    # reads them only if a page asks for one (then one query per row would show in the counts).
    from provisioning.selectors import filespaces_listed_for

    filespace_factory(customer=owner.customer)
    listed = filespaces_listed_for(customer=owner.customer).get()
    assert "root_password" in listed.get_deferred_fields()
    assert {"access_key", "secret_key"} <= listed.order.get_deferred_fields()


def test_the_orders_list_leaves_the_keys_encrypted_and_joins_no_filespace(owner, filespace_factory):
    from portal.orders.selectors import orders_listed_for

    filespace_factory(customer=owner.customer)
    listed = orders_listed_for(customer=owner.customer).get()
    assert {"access_key", "secret_key"} <= listed.get_deferred_fields()
    assert "filespace" not in orders_listed_for(customer=owner.customer).query.select_related


def test_a_deleted_filespace_leaves_the_dashboard_and_its_page(
    owner_client, owner, filespace_factory
):
    kept = filespace_factory(customer=owner.customer, state="active", name="kept")
    gone = filespace_factory(customer=owner.customer, state="deleted", name="gone")
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert kept.remote_name in page and gone.remote_name not in page
    assert owner_client.get(reverse("filespaces:detail", args=[kept.pk])).status_code == 200
    assert owner_client.get(reverse("filespaces:detail", args=[gone.pk])).status_code == 404
