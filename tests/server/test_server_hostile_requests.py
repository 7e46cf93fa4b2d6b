"""Requests an attacker sends: each gets a deliberate status with its CSeq, never a 500."""

from __future__ import annotations

import pytest
from blocking_rtsp import RTSPTestClient
from test_server_handler import Harness

from rtsp_common.errors import ParseError
from rtsp_common.uri import parse_request_uri

MALFORMED_URIS = [
    "rtsp://[::1/clip.Mjpeg",  # unbalanced IPv6 bracket: urlsplit's ValueError
    "rtsp://]x/clip.Mjpeg",
    "rtsp://[zz]/clip.Mjpeg",  # brackets around something that is not an address
    "rtsp://127.0.0.1:99999/clip.Mjpeg",  # port out of range
    "rtsp://127.0.0.1:port/clip.Mjpeg",  # port not a number
    "rtsp:///clip.Mjpeg",  # no host
    "rtsp://127.0.0.1/clip%zz.Mjpeg",  # malformed percent escape
]


# A control character in the request line is refused by the message parser already (400, close).
@pytest.mark.parametrize("uri", [*MALFORMED_URIS, "clip\x01.Mjpeg", ""])
def test_the_uri_parser_refuses_malformed_uris(uri):
    with pytest.raises(ParseError):
        parse_request_uri(uri)


@pytest.mark.parametrize(
    "uri", ["*", "movie.Mjpeg", "rtsp://[::1]:8554/a/b.mjpeg/track1", "rtsp://u:p@h/x?y=1"]
)
def test_the_uri_parser_takes_what_clients_send(uri):
    parsed = parse_request_uri(uri)
    assert parsed.text == uri


@pytest.mark.parametrize("method", ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"])
@pytest.mark.parametrize("uri", MALFORMED_URIS)
def test_malformed_uri_is_answered_400_with_its_cseq(media_dir, method, uri):
    harness = Harness(media_dir)
    answer = harness.send(method, uri, cseq=7, Transport="RTP/AVP;unicast;client_port=5000-5001")
    assert (answer.status, answer.cseq) == (400, 7)
    assert b"Request-URI" in answer.body  # the reason, for whoever reads the reply
    assert len(harness.sessions) == 0 and harness.actions == []


def test_malformed_uri_on_a_live_connection_is_answered_and_the_connection_kept(server):
    client = RTSPTestClient("127.0.0.1", server.port)
    try:
        for cseq, method in enumerate(("DESCRIBE", "SETUP"), start=1):
            client.cseq = cseq - 1
            answer = client.request(method, "rtsp://[::1/clip.Mjpeg")
            assert (answer.status, answer.cseq) == (400, cseq)
        # the same connection still serves a good request
        assert client.request("DESCRIBE", f"{client.base}/clip.Mjpeg").status == 200
    finally:
        client.sock.close()
