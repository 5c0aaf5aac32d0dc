import subprocess
import sys
import time

import requests

from tests.fixtures.lucidsim import SimHandle, start_server, stop_server


def test_a_fault_answers_429_with_retry_after_then_clears(lucidsim):
    lucidsim.add_fault(operation="getDomains", status=429, retry_after=7)

    first = lucidsim.api("GET", "/domains")
    second = lucidsim.api("GET", "/domains")

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "7"
    assert first.json() == {"status": 429, "message": "Too Many Requests"}
    assert second.status_code == 200


def test_a_full_path_prefix_matches_too(lucidsim):
    lucidsim.add_fault(path_prefix="/api/v1/billing/inv", status=502)

    assert lucidsim.api("GET", "/billing/payment").status_code == 200
    assert lucidsim.api("GET", "/billing/invoices").status_code == 502


def test_a_fault_can_repeat_a_number_of_times_or_forever(lucidsim):
    lucidsim.add_fault(operation="getDomains", status=503, times=2)
    statuses = [lucidsim.api("GET", "/domains").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]

    lucidsim.add_fault(method="POST", path_prefix="/api/v1/billing", status=502)
    assert lucidsim.api("GET", "/billing/invoices").status_code == 200
    lucidsim.clear_faults()
    lucidsim.add_fault(method="GET", path_prefix="/billing", status=500, times=-1)
    for _ in range(3):
        assert lucidsim.api("GET", "/billing/invoices").status_code == 500
    assert lucidsim.api("GET", "/domains").status_code == 200
    lucidsim.clear_faults()
    assert lucidsim.api("GET", "/billing/invoices").status_code == 200


def test_a_fault_body_without_status_sends_garbage_with_200(lucidsim):
    lucidsim.add_fault(operation="getFilespaces", body="<html>oops")

    response = lucidsim.api("GET", "/filespaces")

    assert response.status_code == 200
    assert response.text == "<html>oops"


def test_a_delay_fault_slows_the_answer_and_then_answers_normally(lucidsim):
    lucidsim.add_fault(operation="getDomains", delay_seconds=0.5)

    started = time.monotonic()
    response = lucidsim.api("GET", "/domains")

    assert time.monotonic() - started >= 0.5
    assert response.status_code == 200


def test_a_fault_on_create_does_not_create(lucidsim, fs_body):
    lucidsim.add_fault(operation="createFilespace", status=500)

    response = lucidsim.api("POST", "/filespaces", fs_body("media"))

    assert response.status_code == 500
    assert lucidsim.api("GET", "/filespaces").json() == []
    assert lucidsim.count("createFilespace", "media") == 1


def test_a_token_fault_hits_the_token_endpoint(lucidsim):
    lucidsim.add_fault(operation="token", status=503)

    response = requests.post(
        lucidsim.token_url,
        data={"grant_type": "client_credentials"},
        auth=(lucidsim.client_id, lucidsim.client_secret),
        timeout=10,
    )

    assert response.status_code == 503
    assert lucidsim.token()


def test_bad_fault_definitions_are_refused(lucidsim):
    for body in ({"status": "x"}, {"times": 0}, {"operation": 5}, {"delay_seconds": -1}):
        response = requests.post(lucidsim.url + "/_sim/faults", json=body, timeout=10)
        assert response.status_code == 400


def test_the_ledger_counts_calls_by_operation_and_filespace(lucidsim, create_fs):
    fs = create_fs("media")
    lucidsim.api("GET", f"/filespaces/{fs['id']}")
    lucidsim.api("GET", f"/filespaces/{fs['id']}")
    lucidsim.api("GET", "/filespaces?qualifiedName=media.acme")
    lucidsim.add_fault(operation="getFilespace", status=429)
    lucidsim.api("GET", f"/filespaces/{fs['id']}")

    ledger = lucidsim.ledger()

    assert ledger["by_operation"]["createFilespace"] == 1
    assert ledger["by_filespace"]["media"] == {
        "createFilespace": 1,
        "getFilespace": 3,
        "getFilespaces": 1,
    }
    assert lucidsim.count("getFilespace", filespace_name="media") == 3
    faulted = [c for c in ledger["calls"] if c["status"] == 429]
    assert faulted[0]["operation"] == "getFilespace"
    assert faulted[0]["client_id"] == "portal-test"
    assert {"at_ms", "method", "path", "operation", "status"} <= set(faulted[0])

    lucidsim.clear_ledger()
    assert lucidsim.ledger()["calls"] == []


def test_unauthorised_calls_are_recorded_without_a_client(lucidsim):
    requests.get(lucidsim.api_url + "/domains", timeout=10)

    (call,) = lucidsim.ledger()["calls"]

    assert call["status"] == 401
    assert call["client_id"] is None


def test_reset_clears_state_and_restores_configured_values(lucidsim, create_fs):
    create_fs("media")
    lucidsim.set_delay(99)
    lucidsim.advance_clock(3600)
    lucidsim.add_fault(operation="getDomains", status=500, times=-1)
    lucidsim.disable_region("AWS", "us-east-1")

    lucidsim.reset()

    config = lucidsim.control("GET", "/_sim/config")
    assert config["provisioning_delay"] == 0
    assert abs(lucidsim.now_ms() - time.time() * 1000) < 5000
    assert lucidsim.api("GET", "/domains").json() == []
    assert lucidsim.control("GET", "/_sim/regions") == {"disabled": []}
    assert lucidsim.control("GET", "/_sim/faults") == {"faults": []}


def test_control_answers_clear_errors_for_bad_input(lucidsim):
    def status(method: str, path: str, **kwargs) -> int:
        return requests.request(method, lucidsim.url + path, timeout=10, **kwargs).status_code

    assert status("POST", "/_sim/clock/advance", json={}) == 400
    assert status("POST", "/_sim/clock/advance", data="{") == 400
    assert status("POST", "/_sim/clock/advance", json={"seconds": 10**12}) == 400
    assert status("POST", "/_sim/faults", json={"delay_seconds": 1e9}) == 400
    assert status("GET", "/_sim/nothing") == 404
    assert status("PUT", "/_sim/reset") == 405
    assert status("PATCH", "/_sim/config", json={"token_ttl": 0}) == 400
    assert status("POST", "/_sim/filespaces/xyz/status", json={"status": "error"}) == 400
    assert status("POST", "/_sim/billing/close-period", json={"client_id": "nobody"}) == 404
    assert status("POST", "/_sim/cli/format-disk", json={}) == 404


def test_a_restart_keeps_domains_filespaces_tokens_and_invoices(tmp_path):
    state = tmp_path / "sim.sqlite3"
    process, url = start_server(state, "a:b:alpha")
    try:
        sim = SimHandle(url, "a", "b")
        domain_id = sim.api("GET", "/domains").json()[0]["id"]
        body = {
            "domain": domain_id,
            "name": "keep",
            "storage": {"provider": "IBM", "region": "eu-de"},
        }
        fs = sim.api("POST", "/filespaces", body).json()
        sim.advance_clock(3600)
        before = sim.api("GET", f"/filespaces/{fs['id']}").json()
        sim.close_period()
        # Every invoice so far: the clock may also have crossed a month end while advancing.
        invoices_before = [i["id"] for i in sim.api("GET", "/billing/invoices").json()]
        token = sim.token()
    finally:
        stop_server(process)

    process, url = start_server(state, "a:b:alpha")
    try:
        response = requests.get(
            f"{url}/api/v1/filespaces/{fs['id']}", headers={"Authorization": token}, timeout=10
        )
        domains = requests.get(
            f"{url}/api/v1/domains", headers={"Authorization": token}, timeout=10
        )
        invoices = requests.get(
            f"{url}/api/v1/billing/invoices", headers={"Authorization": token}, timeout=10
        )
    finally:
        stop_server(process)

    assert response.status_code == 200
    after = response.json()
    assert after["status"] == "provisioned"
    assert after["stats"]["usedStorage"] >= before["stats"]["usedStorage"] > 0
    assert [d["id"] for d in domains.json()] == [domain_id]
    assert [i["id"] for i in invoices.json()] == invoices_before
    assert invoices_before


def test_the_state_file_holds_no_token_or_secret(tmp_path):
    state = tmp_path / "sim.sqlite3"
    process, url = start_server(state, "a:very-secret-value")
    try:
        token = SimHandle(url, "a", "very-secret-value").token()
    finally:
        stop_server(process)

    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("sim.sqlite3"))
    assert token.encode() not in raw
    assert b"very-secret-value" not in raw


def test_bad_start_up_options_stop_with_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lucidsim", "--accounts", "nocolon", "--state", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "client_id:client_secret" in result.stderr


def test_the_control_listing_shows_every_accounts_filespaces(lucidsim, create_fs):
    fs = create_fs("media")
    lucidsim.control(
        "POST",
        "/_sim/cli/init-s3",
        {"fs": "media.acme", "password": "root-pass-1", "provider": "IBM", "region": "us-east"},
    )

    (listed,) = lucidsim.control("GET", "/_sim/filespaces")["filespaces"]

    assert listed["id"] == fs["id"]
    assert listed["qualifiedName"] == "media.acme"
    assert listed["client_id"] == "portal-test"
    assert listed["status"] == "initialized"
    assert "root-pass-1" not in str(listed)
    assert "root_password" not in listed


def test_an_unusable_state_file_stops_with_a_message(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    result = subprocess.run(
        [sys.executable, "-m", "lucidsim", "--port", "0", "--state", str(blocker / "s.sqlite3")],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 1
    assert "cannot use the state file" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_the_server_cleanly(tmp_path):
    process, _ = start_server(tmp_path / "sim.sqlite3")

    process.terminate()

    assert process.wait(timeout=10) == 0


def test_the_simulator_never_imports_django_or_the_portal():
    code = (
        "import sys, lucidsim.server, lucidsim.cli, lucidsim.cliops\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'portal', 'provisioning', 'billing')]\n"
        "print(bad)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
    )

    assert result.stdout.strip() == "[]", result.stderr


def test_the_verbose_log_names_calls_but_never_credentials(tmp_path):
    state = tmp_path / "sim.sqlite3"
    process, url = start_server(state, "a:log-secret-value", "--verbose")
    try:
        sim = SimHandle(url, "a", "log-secret-value")
        token = sim.token()
        assert sim.api("GET", "/domains").status_code == 200
    finally:
        stop_server(process)

    log = (tmp_path / "sim.sqlite3.stderr").read_text()
    assert "POST /oauth2/token 200" in log
    assert "GET /api/v1/domains 200" in log
    assert token not in log
    assert "log-secret-value" not in log


LEAP_DAY_END_MS = 1_835_481_599_000  # 2028-02-29T23:59:59Z


def test_a_reset_can_start_the_clock_and_the_first_period_at_an_instant(lucidsim):
    lucidsim.control("POST", "/_sim/reset", {"now_ms": LEAP_DAY_END_MS})

    assert 0 <= lucidsim.now_ms() - LEAP_DAY_END_MS < 5_000
    period = lucidsim.api("GET", "/billing/current-period").json()
    assert period["start"] == 1_832_976_000_000  # 2028-02-01T00:00:00Z


def test_the_clock_option_starts_a_new_state_there_and_a_restart_keeps_its_own(tmp_path):
    state = tmp_path / "sim.sqlite3"
    process, url = start_server(state, "a:b", "--clock", "2028-02-29T23:59:59Z")
    try:
        sim = SimHandle(url, "a", "b")
        assert 0 <= sim.now_ms() - LEAP_DAY_END_MS < 5_000
        sim.advance_clock(86_400)
    finally:
        stop_server(process)

    process, url = start_server(state, "a:b", "--clock", "2030-01-01T00:00:00Z")
    try:
        restarted = SimHandle(url, "a", "b").now_ms()
    finally:
        stop_server(process)

    assert 0 <= restarted - (LEAP_DAY_END_MS + 86_400_000) < 10_000


def test_a_clock_option_without_a_utc_offset_stops_with_a_message(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lucidsim",
            "--state",
            str(tmp_path / "s.sqlite3"),
            "--clock",
            "2028-02-29T23:59:59",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "clock must name its UTC offset" in result.stderr
