"""infra.scanner.ClamdScanner against Debian's real clamd (INSTREAM), with the tests' EICAR signature."""
from __future__ import annotations

import os

import pytest

from infra.embedded.redis_server import free_port
from infra.scanner import ClamdScanner, ScanError, ScannerUnavailable, ScanResult, parse_reply
from tests.clamd_server import EICAR, SIGNATURE, ClamdServer

MiB = 1 << 20


@pytest.fixture
def scanner(clamd_server) -> ClamdScanner:
    return ClamdScanner(clamd_server.url, timeout=30)


def test_the_eicar_test_file_is_infected_with_its_signature_name(scanner):
    result = scanner.scan([EICAR])
    assert result.status == "infected" and result.signature.startswith(SIGNATURE)


def test_eicar_split_across_chunks_inside_other_bytes_is_found(scanner):
    data = os.urandom(300_000) + EICAR + os.urandom(1000)
    cut = 300_000 + 20  # inside the signature
    result = scanner.scan(iter([data[:1000], data[1000:cut], data[cut:]]))
    assert result.status == "infected" and result.signature.startswith(SIGNATURE)


def test_a_clean_blob_is_clean(scanner):
    assert scanner.scan([b"hello, this is a perfectly ordinary text file\n"]) == ScanResult("clean", None)


def test_a_5_mib_stream_in_chunks_is_clean(scanner):
    chunks = (os.urandom(256 * 1024) for _ in range(20))
    assert scanner.scan(chunks) == ScanResult("clean", None)


def test_an_empty_stream_is_clean(scanner):
    assert scanner.scan([]) == ScanResult("clean", None)


def test_a_stream_past_clamds_limit_is_a_scan_error_not_clean(clamd_server):  # (skips like clamd_server)
    small = ClamdServer(stream_max_bytes=1 * MiB).start()
    try:
        with pytest.raises(ScanError, match="size limit"):
            ClamdScanner(small.url, timeout=30).scan(b"\0" * MiB for _ in range(4))
    finally:
        small.stop()


def test_clamd_down_is_scanner_unavailable():
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(f"tcp://127.0.0.1:{free_port()}", connect_timeout=1).scan([b"abc"])
    with pytest.raises(ScannerUnavailable):
        ClamdScanner("unix:///nonexistent/clamd.ctl").scan([b"abc"])


def test_replies_are_parsed():
    assert parse_reply("stream: OK\0") == ScanResult("clean")
    assert parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND\0") == ScanResult("infected", "Win.Test.EICAR_HDB-1")
    with pytest.raises(ScanError):
        parse_reply("stream: Can't allocate memory ERROR\0")
    with pytest.raises(ValueError):
        ClamdScanner("http://clamd:3310")
