import http.client
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import lucidsim

SWAGGER = Path(lucidsim.__file__).parent / "service-api.swagger.json"


def _vendor_script(client_id: str, secret: str, token_url: str, api_url: str) -> str:
    """The bash example from the vendor's Swagger description, pointed at the simulator."""
    description = json.loads(SWAGGER.read_text())["info"]["description"]
    script = re.search(r"```sh\n(.*?)```", description, re.S).group(1)
    replacements = {
        "CLIENT_ID=...": f"CLIENT_ID={client_id}",
        "CLIENT_SECRET=...": f"CLIENT_SECRET={secret}",
        "TOKEN_ENDPOINT=https://auth.lucidlink.com/oauth2/token": f"TOKEN_ENDPOINT={token_url}",
        "API_ENDPOINT=https://api.lucidlink.com/v1": f"API_ENDPOINT={api_url}",
    }
    for old, new in replacements.items():
        assert old in script
        script = script.replace(old, new)
    return script


def test_the_vendors_bash_example_prints_the_domain_list(lucidsim):
    # curl and jq are part of the development environment; a missing one fails this test.
    assert shutil.which("curl") and shutil.which("jq")
    domain = lucidsim.create_domain("acme")
    script = _vendor_script(
        lucidsim.client_id, lucidsim.client_secret, lucidsim.token_url, lucidsim.url + "/v1"
    )

    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [domain]


def test_the_shipped_swagger_file_is_the_vendors_2_0_file():
    spec = json.loads(SWAGGER.read_text())

    assert spec["swagger"] == "2.0"
    assert spec["basePath"] == "/api/v1"
    operations = [
        op for path in spec["paths"].values() for op in path.values() if "operationId" in op
    ]
    assert len(operations) == 14


def _connection(sim) -> http.client.HTTPConnection:
    parts = urlsplit(sim.url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_one_keep_alive_connection_serves_many_requests(lucidsim):
    token = lucidsim.token()
    connection = _connection(lucidsim)
    connection.connect()
    socket_before = connection.sock

    for _ in range(5):
        connection.request("GET", "/api/v1/domains", headers={"Authorization": token})
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b"[]"

    assert connection.sock is socket_before
    connection.close()


def test_an_http_1_0_client_gets_a_complete_answer(lucidsim):
    result = subprocess.run(
        ["curl", "-s", "--http1.0", "-i", lucidsim.url + "/api/v1/domains"],
        capture_output=True,
        timeout=20,
    )

    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert " 401 " in head.splitlines()[0]
    assert "Content-Length:" in head
    assert json.loads(body) == {"status": 401, "message": "Illegal request"}


def test_unknown_paths_and_methods_answer_in_the_envelope(lucidsim):
    missing = lucidsim.api("GET", "/nothing-here")
    wrong_method = lucidsim.api("PATCH", "/domains")

    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405


def test_a_chunked_body_is_read(lucidsim):
    token = lucidsim.token()
    connection = _connection(lucidsim)

    def chunks():
        yield b'{"name":'
        yield b' "chunky"}'

    connection.request(
        "POST",
        "/api/v1/domains",
        body=chunks(),
        headers={"Authorization": token, "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()

    assert response.status == 201
    assert json.loads(response.read())["name"] == "chunky"


def test_an_oversized_body_is_refused_without_reading_it(lucidsim):
    token = lucidsim.token()
    connection = _connection(lucidsim)
    connection.putrequest("POST", "/api/v1/domains")
    connection.putheader("Authorization", token)
    connection.putheader("Content-Length", str(50 * 1024 * 1024))
    connection.endheaders()

    response = connection.getresponse()

    assert response.status == 413
    assert lucidsim.api("GET", "/domains").json() == []
