"""The simulator against the vendor's own Swagger 2.0 file, with schemathesis."""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import schemathesis

import lucidsim

SWAGGER = Path(lucidsim.__file__).parent / "service-api.swagger.json"
ST = str(Path(sys.executable).parent / "st")
# Every schema-valid request is not a request the vendor accepts (a random string is a schema-valid
# domain id), so "positive data acceptance" cannot hold for this schema; every other check runs.
COMMON = ["--exclude-checks", "positive_data_acceptance"]


def _st(sim, tmp_path, *extra: str, config_file=None) -> subprocess.CompletedProcess:
    token = sim.token()
    config = ["--config-file", str(config_file)] if config_file else []
    command = [
        ST, *config, "run", str(SWAGGER),
        "--url", sim.api_url,
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", "25",
        "--seed", "20261126",
        "--generation-database", "none",
        "--no-color",
        *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=280)


@pytest.mark.timeout(300)
def test_generated_calls_to_13_operations_pass_every_schemathesis_check(lucidsim, tmp_path):
    lucidsim.create_domain("acme")

    result = _st(
        lucidsim,
        tmp_path,
        *COMMON,
        "--exclude-operation-id",
        "getInvoiceBreakdownPerFilespace",
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Tested: 13" in result.stdout


@pytest.mark.timeout(300)
def test_generated_calls_to_the_csv_breakdown_pass_the_schema_checks(lucidsim, tmp_path):
    # The vendor declares only text/csv for this operation but documents a JSON 404 body; the
    # simulator answers that 404 as JSON, so only the content-type check is left out here.
    result = _st(
        lucidsim,
        tmp_path,
        "--exclude-checks",
        "positive_data_acceptance,content_type_conformance",
        "--include-operation-id",
        "getInvoiceBreakdownPerFilespace",
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Tested: 1" in result.stdout


@pytest.mark.timeout(300)
def test_generated_calls_with_real_ids_pass_every_schemathesis_check(lucidsim, tmp_path):
    domain = lucidsim.create_domain("acme")
    body = {"domain": domain["id"], "storage": {"provider": "IBM", "region": "us-east"}}
    kept = lucidsim.api("POST", "/filespaces", {**body, "name": "kept"}).json()
    doomed = lucidsim.api("POST", "/filespaces", {**body, "name": "doomed"}).json()
    lucidsim.advance_clock(86_400)
    invoice = lucidsim.close_period()["invoices"][lucidsim.client_id]
    pinned = {
        "getFilespace": kept["id"],
        "deleteFilespace": doomed["id"],
        "getDomain": domain["id"],
        "updateDomain": domain["id"],
        "deleteDomain": domain["id"],
        "getInvoiceBreakdownPerFilespace": invoice["id"],
    }
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "".join(
            f'[[operations]]\ninclude-operation-id = "{op}"\nparameters = {{ id = "{value}" }}\n\n'
            for op, value in pinned.items()
        )
    )
    selected = [arg for op in pinned for arg in ("--include-operation-id", op)]

    result = _st(lucidsim, tmp_path, *COMMON, *selected, config_file=config)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Tested: 6" in result.stdout
    ledger = lucidsim.ledger()["calls"]
    answered = {(call["operation"], call["status"]) for call in ledger}
    # The pinned ids reach the real objects: success and conflict answers, not only 400/404.
    assert ("getFilespace", 200) in answered
    assert ("getInvoiceBreakdownPerFilespace", 200) in answered
    assert ("deleteFilespace", 204) in answered
    assert ("deleteDomain", 409) in answered


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_path(str(SWAGGER))


def _check(schema, path: str, method: str, response) -> None:
    """Fail if the response is not what the Swagger file documents for that operation."""
    schema[path][method].validate_response(response)


def test_real_answers_of_all_14_operations_match_the_swagger_file(lucidsim, schema):
    sim = lucidsim
    missing = str(uuid.uuid4())
    calls = [
        ("/domains", "POST", sim.api("POST", "/domains", {"name": "Bad!"})),
        ("/domains", "POST", sim.api("POST", "/domains", {"name": "other-domain"})),
        ("/domains", "POST", sim.api("POST", "/domains", {"name": "acme"})),
        ("/domains", "GET", sim.api("GET", "/domains")),
    ]
    domain = calls[2][2].json()
    body = {
        "domain": domain["id"],
        "name": "media",
        "storage": {"provider": "IBM", "region": "eu-de"},
    }
    created = sim.api("POST", "/filespaces", body)
    fs_id = created.json()["id"]
    sim.set_status(fs_id, "initialized")
    sim.advance_clock(3 * 86_400)
    sim.api("PATCH", "/billing/payment", {"paymentSourceToken": "tok_1"})
    invoice = sim.close_period()["invoices"][sim.client_id]
    sim.disable_region("IBM", "us-south")
    calls += [
        ("/domains/{id}", "GET", sim.api("GET", f"/domains/{domain['id']}")),
        ("/domains/{id}", "GET", sim.api("GET", "/domains/x")),
        ("/domains/{id}", "GET", sim.api("GET", f"/domains/{missing}")),
        ("/domains/{id}", "PUT", sim.api("PUT", f"/domains/{domain['id']}", {"name": "acme-2"})),
        ("/domains/{id}", "PUT", sim.api("PUT", f"/domains/{missing}", {"name": "acme-2"})),
        ("/domains/{id}", "DELETE", sim.api("DELETE", f"/domains/{domain['id']}")),
        ("/filespaces", "POST", created),
        ("/filespaces", "POST", sim.api("POST", "/filespaces", body)),
        ("/filespaces", "POST", sim.api("POST", "/filespaces", {**body, "name": "-"})),
        (
            "/filespaces",
            "POST",
            sim.api(
                "POST",
                "/filespaces",
                {**body, "name": "south", "storage": {"provider": "IBM", "region": "us-south"}},
            ),
        ),
        ("/filespaces", "GET", sim.api("GET", "/filespaces")),
        ("/filespaces", "GET", sim.api("GET", "/filespaces?qualifiedName=media.acme")),
        ("/filespaces/{id}", "GET", sim.api("GET", f"/filespaces/{fs_id}")),
        ("/filespaces/{id}", "GET", sim.api("GET", "/filespaces/1")),
        ("/filespaces/{id}", "GET", sim.api("GET", f"/filespaces/{missing}")),
        ("/billing/payment", "GET", sim.api("GET", "/billing/payment")),
        ("/billing/payment", "PATCH", sim.api("PATCH", "/billing/payment", {"description": "x"})),
        ("/billing/payment", "PATCH", sim.api("PATCH", "/billing/payment", {"card": 1})),
        ("/billing/current-period", "GET", sim.api("GET", "/billing/current-period")),
        ("/billing/invoices", "GET", sim.api("GET", "/billing/invoices")),
        (
            "/billing/invoices/{id}/breakdown/csv",
            "GET",
            sim.api("GET", f"/billing/invoices/{invoice['id']}/breakdown/csv"),
        ),
        ("/filespaces/{id}", "DELETE", sim.api("DELETE", f"/filespaces/{fs_id}")),
        ("/filespaces/{id}", "DELETE", sim.api("DELETE", f"/filespaces/{fs_id}")),
        ("/filespaces/{id}", "DELETE", sim.api("DELETE", "/filespaces/1")),
    ]
    sim.set_delay(600)
    provisioning = sim.api("POST", "/filespaces", {**body, "name": "slow"}).json()
    calls.append(
        ("/filespaces/{id}", "DELETE", sim.api("DELETE", f"/filespaces/{provisioning['id']}"))
    )
    calls.append(("/billing/current-period", "GET", sim.api("GET", "/billing/current-period")))

    seen = set()
    for path, method, response in calls:
        _check(schema, path, method, response)
        seen.add((path, method, response.status_code))
    operations = {(path, method) for path, method, _ in seen}
    assert len(operations) == 14
    statuses = {status for _, _, status in seen}
    assert {200, 201, 204, 400, 404, 409, 422} <= statuses
