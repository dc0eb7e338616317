"""Replay the captured client request frames in tests/fixtures/golden/ against the broker.

Each *.bin there is one complete request frame (4-byte size + header + body) exactly
as a real client sent it (see tests/fixtures/golden/README.md). The broker must answer
each with a response frame carrying the same correlation id; ApiVersions answers must
report no error.
"""

from pathlib import Path

import pytest

import kafka_wire as kw

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
FRAMES = sorted(GOLDEN.glob("*.bin")) if GOLDEN.is_dir() else []


def test_golden_fixtures_present():
    assert FRAMES, f"no captured request frames in {GOLDEN}"


@pytest.mark.parametrize("path", FRAMES, ids=[p.name for p in FRAMES])
def test_replay_request_frame(shared_broker, path):
    frame = path.read_bytes()
    size = int.from_bytes(frame[:4], "big", signed=True)
    assert size == len(frame) - 4, f"{path.name}: size prefix {size} != {len(frame) - 4} bytes"
    hdr = kw.parse_request_header(frame[4:])
    payload = kw.roundtrip(shared_broker.bootstrap, frame)
    assert payload is not None, f"broker closed the connection on {path.name}"
    corr = kw.Reader(payload).int32()
    assert corr == hdr.correlation_id
    if hdr.api_key == 18:
        resp = kw.parse_api_versions_response(payload, min(hdr.api_version, 3))
        if resp.error_code == kw.ERROR_UNSUPPORTED_VERSION:  # newer than the broker: KIP-511 fallback
            resp = kw.parse_api_versions_response(payload, 0)
            assert 18 in resp.apis
        else:
            assert resp.error_code == 0
            assert set(kw.REQUIRED_APIS) <= set(resp.apis)
