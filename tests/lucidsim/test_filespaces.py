import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

INVALID = {"status": 400, "message": "Invalid request. Check filespace model definition."}


def test_a_created_filespace_starts_in_provisioning(lucidsim, fs_body, domain):
    response = lucidsim.api("POST", "/filespaces", fs_body("media", version=4, extra="ignored"))

    assert response.status_code == 201
    fs = response.json()
    assert fs["status"] == "provisioning"
    assert fs["domain"] == domain["id"]
    assert fs["name"] == "media"
    assert fs["version"] == 4
    assert fs["subscriptionType"] == "teams"
    assert fs["usersCount"] == 0
    assert fs["storage"] == {"owner": "lucidlink", "provider": "IBM", "region": "us-east"}
    assert fs["stats"]["usedStorage"] == 0
    assert "extra" not in fs


def test_with_no_delay_a_filespace_is_provisioned_on_the_next_read(lucidsim, create_fs):
    fs = create_fs()

    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["status"] == "provisioned"


def test_the_provisioning_delay_follows_the_simulated_clock(lucidsim, create_fs):
    lucidsim.set_delay(90)
    fs = create_fs()
    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["status"] == "provisioning"

    lucidsim.advance_clock(91)

    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["status"] == "provisioned"


def test_the_qualified_name_filter_finds_one_filespace(lucidsim, create_fs):
    media = create_fs("media")
    create_fs("archive")

    found = lucidsim.api("GET", "/filespaces?qualifiedName=media.acme").json()
    everything = lucidsim.api("GET", "/filespaces").json()

    assert [fs["id"] for fs in found] == [media["id"]]
    assert {fs["name"] for fs in everything} == {"media", "archive"}
    assert lucidsim.api("GET", "/filespaces?qualifiedName=media.other").json() == []
    assert lucidsim.api("GET", "/filespaces?qualifiedName=nodot").json() == []


def test_another_accounts_filespace_is_invisible(lucidsim, create_fs):
    fs = create_fs("media")
    token = requests.post(
        lucidsim.token_url,
        data={"grant_type": "client_credentials"},
        auth=("other-account", "other-secret"),
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": token}

    listed = requests.get(lucidsim.api_url + "/filespaces", headers=headers, timeout=10)
    one = requests.get(lucidsim.api_url + f"/filespaces/{fs['id']}", headers=headers, timeout=10)
    gone = requests.delete(
        lucidsim.api_url + f"/filespaces/{fs['id']}", headers=headers, timeout=10
    )
    search = requests.get(
        lucidsim.api_url + "/filespaces?qualifiedName=media.acme", headers=headers, timeout=10
    )

    assert listed.json() == []
    assert one.status_code == 404
    assert gone.status_code == 404
    assert search.json() == []


def _storage(**fields) -> dict:
    return {"storage": fields}


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"name": "a"}, "name too short"),
        ({"name": "Media"}, "uppercase"),
        ({"name": "-media"}, "leading hyphen"),
        ({"name": "me_dia"}, "underscore"),
        ({"name": "media\n"}, "trailing newline"),
        ({"name": "m" * 64}, "too long"),
        ({"name": 12}, "wrong type"),
        ({"domain": None}, "no domain"),
        ({"domain": str(uuid.uuid4())}, "unknown domain"),
        ({"version": 5}, "bad version"),
        ({"version": "3"}, "version as a string"),
        ({"subscriptionType": "none"}, "read-only subscription"),
        ({"subscriptionType": "gold"}, "unknown subscription"),
        ({"storage": "IBM"}, "storage not an object"),
        (_storage(provider="Dropbox", region="x"), "unknown provider"),
        (_storage(region="us-east"), "no provider"),
        (_storage(provider="IBM"), "no region"),
        (_storage(provider="IBM", region="mars-1"), "not an IBM region"),
        (_storage(provider="AWS", region="us-east-1"), "teams needs IBM"),
        (_storage(provider="IBM", region="us-east", owner="customer"), "teams is lucidlink-owned"),
        (_storage(provider="IBM", region="us-east", bucket="mine"), "bucket on lucidlink storage"),
        (_storage(provider="IBM", region="us-east", endpoint="https://x"), "endpoint on IBM"),
        ({"subscriptionType": "basic"}, "basic needs Wasabi"),
    ],
)
def test_create_rules_give_the_vendors_400(lucidsim, fs_body, overrides, why):
    response = lucidsim.api("POST", "/filespaces", fs_body(**overrides))

    assert response.status_code == 400, why
    assert response.json() == INVALID
    assert response.headers["X-Lucidsim-Reason"]


@pytest.mark.parametrize(
    "storage",
    [
        {"provider": "AWS", "region": "us-east-1"},
        {"provider": "AWS", "region": "us-east-1", "bucket": "ab"},
        {"provider": "AWS", "region": "us-east-1", "bucket": "Upper-Case"},
        {"provider": "Other", "region": "eu", "bucket": "media-bucket"},
        {"provider": "Other", "region": "eu", "bucket": "media-bucket", "endpoint": "ftp://x"},
        {"provider": "AWS", "region": "us-east-1", "bucket": "media", "owner": "lucidlink"},
    ],
)
def test_custom_storage_rules_give_the_vendors_400(lucidsim, fs_body, storage):
    body = fs_body(subscriptionType="custom", storage=storage)

    response = lucidsim.api("POST", "/filespaces", body)

    assert response.status_code == 400
    assert response.json() == INVALID


@pytest.mark.parametrize(
    ("subscription", "storage"),
    [
        ("basic", {"provider": "Wasabi", "region": "eu-central-1"}),
        ("enterprise", {"provider": "IBM", "region": "eu-de", "owner": "lucidlink"}),
        ("custom", {"provider": "AWS", "region": "eu-west-1", "bucket": "acme.media-1"}),
        (
            "custom",
            {
                "provider": "Other",
                "region": "eu-central-003",
                "endpoint": "https://s3.eu-central-003.backblazeb2.com:443",
                "bucket": "acme-b2",
                "customer": "string",
            },
        ),
    ],
)
def test_each_subscription_type_accepts_its_storage(lucidsim, fs_body, subscription, storage):
    response = lucidsim.api(
        "POST", "/filespaces", fs_body(subscriptionType=subscription, storage=storage)
    )

    assert response.status_code == 201, response.headers.get("X-Lucidsim-Reason")
    fs = response.json()
    assert fs["subscriptionType"] == subscription
    assert fs["storage"]["provider"] == storage["provider"]
    assert "customer" not in fs["storage"]


def test_a_malformed_or_non_object_body_is_a_400(lucidsim):
    token = lucidsim.token()
    for data in (b"{", b"[]", b"null", b"\xff\xfe"):
        response = requests.post(
            lucidsim.api_url + "/filespaces",
            data=data,
            headers={"Authorization": token, "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json() == INVALID


def test_a_second_create_with_the_same_name_is_a_409(lucidsim, create_fs, fs_body):
    create_fs("media")

    response = lucidsim.api("POST", "/filespaces", fs_body("media"))

    assert response.status_code == 409
    assert response.json() == {"status": 409, "message": "Filespace name already exists."}
    assert len(lucidsim.api("GET", "/filespaces").json()) == 1


def test_a_disabled_region_refuses_creates_with_a_422(lucidsim, fs_body):
    lucidsim.disable_region("IBM", "us-east")

    refused = lucidsim.api("POST", "/filespaces", fs_body("media"))
    lucidsim.enable_region("IBM", "us-east")
    accepted = lucidsim.api("POST", "/filespaces", fs_body("media"))

    assert refused.status_code == 422
    assert refused.json() == {
        "status": 422,
        "message": "Filespace creation is currently disabled in the selected region.",
    }
    assert accepted.status_code == 201


def test_get_filespace_answers_400_and_404(lucidsim):
    bad = lucidsim.api("GET", "/filespaces/12")
    missing = lucidsim.api("GET", f"/filespaces/{uuid.uuid4()}")

    assert bad.json() == {"status": 400, "message": "Invalid filespace ID."}
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "message": "Filespace not found."}


def test_a_deleted_filespace_is_404_and_its_name_is_free_again(lucidsim, create_fs):
    fs = create_fs("media")

    response = lucidsim.api("DELETE", f"/filespaces/{fs['id']}")

    assert response.status_code == 204
    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").status_code == 404
    assert lucidsim.api("DELETE", f"/filespaces/{fs['id']}").status_code == 404
    assert lucidsim.api("DELETE", "/filespaces/nope").status_code == 400
    assert lucidsim.api("GET", "/filespaces?qualifiedName=media.acme").json() == []
    assert create_fs("media")["id"] != fs["id"]


def test_delete_is_refused_while_provisioning(lucidsim, create_fs):
    lucidsim.set_delay(600)
    fs = create_fs("media")

    response = lucidsim.api("DELETE", f"/filespaces/{fs['id']}")

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "message": "Cannot delete filespace while in status `provisioning`.",
    }
    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").status_code == 200


def test_a_filespace_in_error_can_be_deleted(lucidsim, create_fs):
    fs = create_fs("media")
    assert lucidsim.set_status(fs["id"], "error")["status"] == "error"

    assert lucidsim.api("GET", f"/filespaces/{fs['id']}").json()["status"] == "error"
    assert lucidsim.api("DELETE", f"/filespaces/{fs['id']}").status_code == 204


def test_non_json_numbers_and_absurd_nesting_are_a_400_not_a_crash(lucidsim, domain):
    token = lucidsim.token()
    bodies = [
        b'{"name": "media", "version": NaN}',
        b'{"name": "media", "version": Infinity}',
        b'{"name": "media", "version": 1e400}',
        b"[" * 100_000 + b"]" * 100_000,
    ]
    for data in bodies:
        response = requests.post(
            lucidsim.api_url + "/filespaces",
            data=data,
            headers={"Authorization": token},
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json() == INVALID
    card = b'{"card": {"numberLast4": "1234", "expiryMonth": Infinity, "expiryYear": 2030}}'
    payment = requests.patch(
        lucidsim.api_url + "/billing/payment",
        data=card,
        headers={"Authorization": token},
        timeout=10,
    )
    assert payment.status_code == 400


def test_concurrent_creates_of_one_name_make_exactly_one_filespace(lucidsim, fs_body):
    token = lucidsim.token()
    body = fs_body("race")

    def create(_: int) -> int:
        return requests.post(
            lucidsim.api_url + "/filespaces",
            json=body,
            headers={"Authorization": token},
            timeout=10,
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(create, range(16)))

    assert statuses == [201] + [409] * 15
    assert len(lucidsim.api("GET", "/filespaces").json()) == 1
    assert lucidsim.count("createFilespace", "race") == 16


def test_odd_characters_in_a_rejected_body_do_not_break_the_answer(lucidsim, fs_body):
    body = fs_body(storage={"provider": "IBM", "region": "é中\r\nX-Injected: 1"})

    response = lucidsim.api("POST", "/filespaces", body)

    assert response.status_code == 400
    assert response.json() == INVALID
    assert "X-Injected" not in response.headers
    assert "\\u4e2d" in response.headers["X-Lucidsim-Reason"]
