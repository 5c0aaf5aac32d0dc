import time

import requests

ILLEGAL = {"status": 401, "message": "Illegal request"}


def _token_response(sim, **kwargs):
    return requests.post(sim.token_url, timeout=10, **kwargs)


def test_a_token_is_issued_for_basic_auth_credentials(lucidsim):
    response = _token_response(
        lucidsim,
        data={"grant_type": "client_credentials"},
        auth=("portal-test", "portal-test-secret"),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"


def test_a_token_is_issued_for_credentials_in_the_form_body(lucidsim):
    response = _token_response(
        lucidsim,
        data={
            "grant_type": "client_credentials",
            "client_id": "portal-test",
            "client_secret": "portal-test-secret",
        },
    )

    assert response.status_code == 200
    assert response.json()["access_token"]


def test_a_wrong_secret_gets_the_oauth2_invalid_client_401(lucidsim):
    response = _token_response(
        lucidsim, data={"grant_type": "client_credentials"}, auth=("portal-test", "nope")
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "access_token" not in response.text


def test_an_unknown_client_id_in_the_form_gets_invalid_client(lucidsim):
    response = _token_response(
        lucidsim,
        data={"grant_type": "client_credentials", "client_id": "who", "client_secret": "x"},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_grant_other_than_client_credentials_is_refused(lucidsim):
    response = _token_response(
        lucidsim, data={"grant_type": "password"}, auth=("portal-test", "portal-test-secret")
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_expires_in_follows_the_configured_ttl(lucidsim):
    lucidsim.set_token_ttl(120)

    response = _token_response(
        lucidsim,
        data={"grant_type": "client_credentials"},
        auth=("portal-test", "portal-test-secret"),
    )

    assert response.json()["expires_in"] == 120


def test_both_the_bare_token_and_bearer_are_accepted(lucidsim):
    token = lucidsim.token()

    bare = requests.get(lucidsim.api_url + "/domains", headers={"Authorization": token}, timeout=10)
    bearer = requests.get(
        lucidsim.api_url + "/domains", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    assert bare.status_code == 200
    assert bearer.status_code == 200


def test_missing_or_unknown_tokens_get_illegal_request(lucidsim):
    url = lucidsim.api_url + "/domains"
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic abc def"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == ILLEGAL


def test_a_token_stops_working_once_its_ttl_has_passed(lucidsim):
    lucidsim.set_token_ttl(1)
    token = lucidsim.token()
    headers = {"Authorization": token}
    assert requests.get(lucidsim.api_url + "/domains", headers=headers, timeout=10).ok

    time.sleep(1.2)

    response = requests.get(lucidsim.api_url + "/domains", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == ILLEGAL


def test_expired_and_revoked_tokens_get_illegal_request(lucidsim):
    for end in (lucidsim.expire_tokens, lucidsim.revoke_tokens):
        token = lucidsim.token()
        end()
        response = requests.get(
            lucidsim.api_url + "/domains", headers={"Authorization": token}, timeout=10
        )
        assert response.json() == ILLEGAL
        fresh = lucidsim.token()
        assert requests.get(
            lucidsim.api_url + "/domains", headers={"Authorization": fresh}, timeout=10
        ).ok


def test_a_token_only_sees_its_own_accounts_domain(lucidsim):
    response = requests.post(
        lucidsim.token_url,
        data={"grant_type": "client_credentials"},
        auth=("other-account", "other-secret"),
        timeout=10,
    )
    other = {"Authorization": response.json()["access_token"]}

    theirs = requests.get(lucidsim.api_url + "/domains", headers=other, timeout=10).json()
    ours = lucidsim.api("GET", "/domains").json()

    assert [d["name"] for d in theirs] == ["other-domain"]
    assert ours == []


def test_a_garbled_basic_header_is_invalid_client(lucidsim):
    for header in ("Basic ***", "Basic zé", "Basic " + "QQ=="):
        response = requests.post(
            lucidsim.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": header.encode()},
            timeout=10,
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
