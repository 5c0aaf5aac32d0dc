import uuid

import pytest
import requests


def _other_token(sim) -> dict:
    response = requests.post(
        sim.token_url,
        data={"grant_type": "client_credentials"},
        auth=("other-account", "other-secret"),
        timeout=10,
    )
    return {"Authorization": response.json()["access_token"]}


def test_a_domain_is_created_and_listed(lucidsim):
    response = lucidsim.api("POST", "/domains", {"name": "acme-media", "ignored": True})

    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "acme-media"
    assert uuid.UUID(created["id"])
    assert lucidsim.api("GET", "/domains").json() == [created]
    assert lucidsim.api("GET", f"/domains/{created['id']}").json() == created


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ab"},
        {"name": "acme\n"},
        {"name": "Acme"},
        {"name": "a" * 61},
        {"name": "acme_1"},
        {"name": 42},
        {},
    ],
)
def test_an_invalid_domain_name_is_a_400(lucidsim, body):
    response = lucidsim.api("POST", "/domains", body)

    assert response.status_code == 400
    assert response.json() == {"status": 400, "message": "Invalid domain name."}


def test_malformed_json_is_a_400_in_the_error_envelope(lucidsim):
    token = lucidsim.token()
    response = requests.post(
        lucidsim.api_url + "/domains",
        data=b"{not json",
        headers={"Authorization": token, "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_a_domain_name_taken_by_another_account_is_a_409(lucidsim):
    response = lucidsim.api("POST", "/domains", {"name": "other-domain"})

    assert response.status_code == 409
    assert response.json() == {"status": 409, "message": "Domain name already taken."}


def test_an_account_gets_only_one_domain(lucidsim):
    lucidsim.create_domain("acme")

    response = lucidsim.api("POST", "/domains", {"name": "acme-two"})

    assert response.status_code == 409
    assert response.json()["message"] == "Account has an existing domain."


def test_get_domain_answers_400_for_a_malformed_id_and_404_for_unknown_ones(lucidsim):
    assert lucidsim.api("GET", "/domains/not-an-id").json() == {
        "status": 400,
        "message": "Invalid domain ID.",
    }
    missing = lucidsim.api("GET", f"/domains/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json() == {"status": 404, "message": "Domain not found."}


def test_another_accounts_domain_is_not_found(lucidsim):
    theirs = requests.get(lucidsim.api_url + "/domains", headers=_other_token(lucidsim), timeout=10)
    their_id = theirs.json()[0]["id"]

    for method in ("GET", "DELETE"):
        assert lucidsim.api(method, f"/domains/{their_id}").status_code == 404
    assert lucidsim.api("PUT", f"/domains/{their_id}", {"name": "stolen"}).status_code == 404


def test_a_domain_without_filespaces_can_be_renamed(lucidsim):
    domain = lucidsim.create_domain("acme")

    response = lucidsim.api("PUT", f"/domains/{domain['id']}", {"name": "acme-renamed"})

    assert response.status_code == 200
    assert response.json() == {"id": domain["id"], "name": "acme-renamed"}
    assert lucidsim.api("GET", "/domains").json()[0]["name"] == "acme-renamed"


def test_update_domain_rejects_bad_names_ids_and_taken_names(lucidsim):
    domain = lucidsim.create_domain("acme")

    assert lucidsim.api("PUT", f"/domains/{domain['id']}", {"name": "A!"}).status_code == 400
    assert lucidsim.api("PUT", f"/domains/{domain['id']}", [1]).status_code == 400
    assert lucidsim.api("PUT", "/domains/xyz", {"name": "fine-name"}).status_code == 400
    assert lucidsim.api("PUT", f"/domains/{uuid.uuid4()}", {"name": "fine"}).status_code == 404
    taken = lucidsim.api("PUT", f"/domains/{domain['id']}", {"name": "other-domain"})
    assert taken.status_code == 409


def test_a_domain_with_filespaces_cannot_be_updated_or_deleted(lucidsim, create_fs, domain):
    create_fs("media")

    put = lucidsim.api("PUT", f"/domains/{domain['id']}", {"name": "acme-renamed"})
    delete = lucidsim.api("DELETE", f"/domains/{domain['id']}")

    for response in (put, delete):
        assert response.status_code == 409
        assert response.json() == {"status": 409, "message": "Domain has filespaces."}


def test_a_deleted_domain_is_gone_and_frees_the_account(lucidsim):
    domain = lucidsim.create_domain("acme")

    response = lucidsim.api("DELETE", f"/domains/{domain['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert lucidsim.api("GET", f"/domains/{domain['id']}").status_code == 404
    assert lucidsim.api("DELETE", f"/domains/{domain['id']}").status_code == 404
    assert lucidsim.api("DELETE", "/domains/zzz").status_code == 400
    assert lucidsim.create_domain("acme-again")["name"] == "acme-again"


def test_a_domain_whose_filespaces_were_deleted_can_be_deleted(lucidsim, create_fs, domain):
    fs = create_fs("media")
    assert lucidsim.api("DELETE", f"/filespaces/{fs['id']}").status_code == 204

    assert lucidsim.api("DELETE", f"/domains/{domain['id']}").status_code == 204


def test_the_v1_prefix_serves_the_same_api(lucidsim):
    domain = lucidsim.create_domain("acme")
    token = lucidsim.token()

    response = requests.get(
        lucidsim.url + "/v1/domains", headers={"Authorization": token}, timeout=10
    )

    assert response.json() == [domain]
