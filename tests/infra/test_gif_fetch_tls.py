"""The fetcher over https: it connects to the address it checked, and TLS still verifies the certificate
against the URL's host name (SNI and hostname check), so pinning the address costs no security. A local
https server with a certificate from a CA made here, trusted through SSL_CERT_FILE (OpenSSL's default
trust store, which the fetcher uses)."""
from __future__ import annotations

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from infra.gifs.fetch import FetchRefused, fetch
from tests.gif_provider import animated_gif


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _cert(subject: str, issuer_key, issuer: str, key, *, ca: bool, dns: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                      content_commitment=False, key_encipherment=False,
                                                      data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def https_server(tmp_path, monkeypatch, request):
    """An https server on 127.0.0.1 whose certificate names ``request.param`` (a host name)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = _cert(request.param, ca_key, "test CA", key, ca=False, dns=request.param)
    (tmp_path / "ca.pem").write_bytes(_pem(ca))
    (tmp_path / "leaf.pem").write_bytes(_pem(leaf) + _pem(ca))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    server.expect_request("/a.gif").respond_with_data(animated_gif(8, 8, (1, 2, 3)), content_type="image/gif")
    yield server
    server.stop()


@pytest.mark.parametrize("https_server", ["localhost"], indirect=True)
def test_https_to_the_checked_address_with_the_names_certificate(https_server):
    fetched = fetch(f"https://localhost:{https_server.port}/a.gif", allowed_hosts=("localhost",), max_bytes=10_000,
                    timeout=2, allow_private=True)
    assert fetched.content_type == "image/gif" and fetched.data.startswith(b"GIF89a")


@pytest.mark.parametrize("https_server", ["media.other.example"], indirect=True)
def test_a_certificate_for_another_name_is_refused(https_server):
    with pytest.raises(FetchRefused) as caught:
        fetch(f"https://localhost:{https_server.port}/a.gif", allowed_hosts=("localhost",), max_bytes=10_000,
              timeout=2, allow_private=True)
    assert caught.value.code == "gif_unavailable"
    assert https_server.log == []        # the handshake failed: no request was made
