"""Webhook URLs cannot reach inside the MSP's network (issue #16).

Inner addresses hidden in IPv6 forms are refused, only 443 (and the MSP's list) may be used,
the delivery connects to the address that was checked while TLS is still verified for the
name, and a failed delivery never tells a closed port from a filtered one.
"""

import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from portal.webhooks import transport, validators
from portal.webhooks.models import Attempt, Delivery
from portal.webhooks.services import delivery_attempt, subscription_create, webhook_emit
from portal.webhooks.validators import resolve_webhook_target, validate_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]/hooks",  # IPv4-compatible loopback
        "https://[::169.254.169.254]/latest",  # IPv4-compatible link-local (cloud metadata)
        "https://[::10.0.0.5]/hooks",
        "https://[64:ff9b::127.0.0.1]/hooks",  # NAT64 well-known prefix
        "https://[64:ff9b::169.254.169.254]/latest",
        "https://[64:ff9b::192.168.1.1]/hooks",
        "https://[64:ff9b:1::1]/hooks",  # local-use NAT64
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[2002:7f00:1::]/hooks",  # 6to4 of 127.0.0.1
    ],
)
def test_inner_addresses_in_ipv6_clothing_are_refused(url):
    with pytest.raises(ValidationError, match="private or local"):
        validate_webhook_url(url, allow_loopback=False)


def test_a_nat64_form_of_a_public_address_is_accepted():
    assert validate_webhook_url("https://[64:ff9b::93.184.215.14]/hooks", allow_loopback=False)


def test_a_name_with_any_inner_address_is_refused(monkeypatch):
    answers = [("93.184.215.14", 443), ("::169.254.169.254", 443, 0, 0)]
    fake = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr) for sockaddr in answers]
    monkeypatch.setattr(validators.socket, "getaddrinfo", lambda *a, **k: fake)
    with pytest.raises(ValidationError, match="private or local"):
        validate_webhook_url("https://hooks.example.com/x", allow_loopback=False)


@pytest.mark.parametrize("url", ["https://93.184.215.14:22/hooks", "https://93.184.215.14:8443/"])
def test_only_port_443_is_allowed_by_default(url, settings):
    settings.WEBHOOK_ALLOWED_PORTS = []
    with pytest.raises(ValidationError, match="only use port 443"):
        validate_webhook_url(url, allow_loopback=False)


def test_the_msp_can_allow_more_ports(settings):
    settings.WEBHOOK_ALLOWED_PORTS = [8443]
    assert validate_webhook_url("https://93.184.215.14:8443/hooks", allow_loopback=False)
    with pytest.raises(ValidationError, match="port 443, 8443"):
        validate_webhook_url("https://93.184.215.14:8080/hooks", allow_loopback=False)


# --- Connecting to the checked address ---------------------------------------------------------


def _resolver_counting(monkeypatch, name: str, address: str) -> list[str]:
    """Make `name` resolve to `address` the first time and to nothing usable afterwards."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host, *args, **kwargs):
        if host == name:
            lookups.append(host)
            if len(lookups) > 1:  # a second lookup would be answered by the attacker
                return real("10.255.255.1", *args, **kwargs)
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


@pytest.mark.django_db
def test_a_delivery_resolves_once_and_connects_to_the_checked_address(
    monkeypatch, receiver, staff, customer_factory, no_webhook_enqueue
):
    port = receiver.url.split(":")[2].split("/")[0]
    lookups = _resolver_counting(monkeypatch, "hooks.rebind.test", "127.0.0.1")
    subscription, _secret = subscription_create(
        url=f"http://hooks.rebind.test:{port}/hooks", event_types=["order.placed"], created_by=staff
    )
    lookups.clear()
    webhook_emit(
        event_type="order.placed",
        customer=customer_factory(),
        dedupe_key="order.placed:1",
        data={"order": {"id": 1}},
    )
    delivery = Delivery.objects.get(subscription=subscription)
    assert delivery_attempt(delivery_id=delivery.pk).succeeded
    assert lookups == ["hooks.rebind.test"]
    assert receiver.requests[0].headers["Host"] == f"hooks.rebind.test:{port}"


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory):
    """An HTTPS server on 127.0.0.1 whose certificate (from a test CA) names hooks.tls.test."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.tls.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.tls.test")]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[tuple[str, str]] = []
    sni: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.headers["Host"], sni[-1] if sni else None))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    context.sni_callback = lambda _sock, name, _context: sni.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(folder / "ca.pem"), seen
    server.shutdown()


def _pinned_target(host: str, port: int) -> validators.WebhookTarget:
    address = ipaddress.ip_address("127.0.0.1")
    return validators.WebhookTarget(f"https://{host}:{port}/hooks", "https", host, port, (address,))


def test_tls_is_verified_for_the_host_name_while_connecting_to_the_checked_address(tls_receiver):
    port, ca_file, seen = tls_receiver
    response = transport.post_pinned(
        _pinned_target("hooks.tls.test", port), body=b"{}", headers={}, timeout=5, verify=ca_file
    )
    assert response.status_code == 204
    assert seen[-1] == (f"hooks.tls.test:{port}", "hooks.tls.test")


def test_a_certificate_for_another_name_is_refused(tls_receiver):
    import requests

    port, ca_file, _seen = tls_receiver
    with pytest.raises(requests.exceptions.SSLError):
        transport.post_pinned(
            _pinned_target("evil.tls.test", port), body=b"{}", headers={}, timeout=5, verify=ca_file
        )


# --- What the customer is told -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_closed_port_and_a_timeout_look_the_same_to_the_customer(
    receiver, staff, customer_factory, no_webhook_enqueue, settings
):
    settings.WEBHOOK_READ_TIMEOUT = 1
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    receiver.plan.append((200, {}, 2.5))
    urls = [f"http://127.0.0.1:{closed_port}/hooks", receiver.url]
    for url in urls:
        subscription_create(url=url, event_types=["order.placed"], created_by=staff)
    webhook_emit(
        event_type="order.placed",
        customer=customer_factory(),
        dedupe_key="order.placed:1",
        data={"order": {"id": 1}},
    )
    for delivery in Delivery.objects.all():
        delivery_attempt(delivery_id=delivery.pk)
    errors = set(Attempt.objects.values_list("error", flat=True))
    assert len(errors) == 1 and Attempt.objects.count() == 2
    assert errors == {"The endpoint could not be reached or did not answer in time."}


def test_resolve_returns_every_checked_address(monkeypatch):
    answers = [("93.184.215.14", 443), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", 443, 0, 0)]
    fake = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", sockaddr) for sockaddr in answers]
    monkeypatch.setattr(validators.socket, "getaddrinfo", lambda *a, **k: fake)
    target = resolve_webhook_target("https://hooks.example.com/x?a=1", allow_loopback=False)
    assert [str(a) for a in target.addresses] == [a[0] for a in answers]
    assert transport._address_url(target, target.addresses[1]) == (
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/x?a=1"
    )
