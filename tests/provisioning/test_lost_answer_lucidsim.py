"""A create whose answer is lost is adopted, whatever optional fields LucidLink leaves out.

lucidsim performs the POST /filespaces and then closes the connection without answering (the
`drop_after` fault), so the portal cannot know whether anything was created. The retry finds the
filespace by name and must adopt it from the create intent the row recorded before the POST plus
what the answer carries; a field the answer leaves out is unknown, never a mismatch. Every
combination of the optional fields that could take part in that decision is tried.
"""

import itertools

import pytest
from django.utils import timezone

from portal.plans.models import StorageOwner, SubscriptionType
from provisioning.models import Filespace, ProvisioningEvent
from tests.provisioning.test_against_lucidsim import deliver, sim  # noqa: F401 (fixture)

State = Filespace.State
Kind = ProvisioningEvent.Kind

# The Swagger's optional fields of a Filespace and its FilespaceStorage, except the id (without
# which no filespace can be addressed) and the status (which says nothing about ownership).
OPTIONAL = (
    "version",
    "subscriptionType",
    "usersCount",
    "stats",
    "storage.owner",
    "storage.region",
    "storage.endpoint",
    "storage.bucket",
)
COMBINATIONS = [
    combination
    for size in range(len(OPTIONAL) + 1)
    for combination in itertools.combinations(OPTIONAL, size)
]


@pytest.fixture
def own_bucket(plan_factory, filespace_factory):
    """Rows of an own-bucket plan (the customer's bucket behind an S3 endpoint), due now."""
    plan = plan_factory(
        storage_owner=StorageOwner.CUSTOMER,
        subscription_type=SubscriptionType.CUSTOM,
        provider="Other",
        allowed_regions=["eu-1"],
    )

    def make(name: str) -> Filespace:
        return filespace_factory(
            plan=plan,
            name=name,
            bucket=f"{name}-bucket",
            endpoint="https://s3.example.net:443",
            next_poll_at=timezone.now(),
        )

    return make


def test_every_combination_of_optional_fields_is_tried():
    assert len(COMBINATIONS) == 2 ** len(OPTIONAL) == 256


def test_a_create_whose_answer_is_lost_is_adopted_for_every_combination_of_absent_fields(
    sim,  # noqa: F811
    own_bucket,
):
    not_adopted = []
    for index, omitted in enumerate(COMBINATIONS):
        sim.omit_fields(*omitted)
        sim.add_fault(operation="createFilespace", drop_after=True)
        filespace = own_bucket(f"lost{index}")

        deliver(filespace)

        events = list(filespace.events.values_list("kind", flat=True))
        adopted = filespace.state in (State.PROVISIONING, State.PROVISIONED) and filespace.remote_id
        if not adopted or Kind.ADOPTED not in events:
            not_adopted.append((omitted, filespace.state, filespace.last_error))
    assert not_adopted == []
    # Exactly one create reached LucidLink per order: nothing was created twice.
    by_filespace = sim.ledger()["by_filespace"]
    creates = {name: calls.get("createFilespace", 0) for name, calls in by_filespace.items()}
    assert set(creates.values()) == {1}
    assert len(creates) == len(COMBINATIONS)


def test_a_lost_answer_with_every_optional_field_absent_then_provisions(sim, own_bucket):  # noqa: F811
    sim.omit_fields(*OPTIONAL)
    sim.add_fault(operation="createFilespace", drop_after=True)
    filespace = own_bucket("media")

    countdowns = deliver(filespace)

    assert len(countdowns) == 1  # the dropped answer was retried once, then adopted
    assert filespace.state in (State.PROVISIONING, State.PROVISIONED)
    assert filespace.remote_id
    assert list(filespace.events.values_list("kind", flat=True))[:3] == [
        Kind.CREATE_SENT,
        Kind.RETRY,
        Kind.ADOPTED,
    ]


def test_a_same_named_filespace_on_another_bucket_is_still_refused_when_fields_are_present(
    sim,  # noqa: F811
    own_bucket,
):
    sim.omit_fields()  # every field present, also in the --lucidsim-omit-optional run
    filespace = own_bucket("media")
    Filespace.objects.filter(pk=filespace.pk).update(create_sent_at=timezone.now(), attempts=1)
    domain_id = sim.api("GET", "/domains").json()[0]["id"]
    made_elsewhere = sim.api(
        "POST",
        "/filespaces",
        {
            "domain": domain_id,
            "name": filespace.remote_name,
            "subscriptionType": "custom",
            "storage": {
                "owner": "customer",
                "provider": "Other",
                "region": "eu-1",
                "endpoint": "https://s3.example.net:443",
                "bucket": "someone-elses",
            },
        },
    )
    assert made_elsewhere.status_code == 201, made_elsewhere.text

    deliver(filespace)

    assert filespace.state == State.ERROR
    assert "another bucket" in filespace.last_error
