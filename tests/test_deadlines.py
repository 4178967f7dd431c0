"""Deadlines: a STAC API that trickles a byte at a time never trips a read timeout; the deadline of one
attempt and the total one of a search do."""

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from shapely.geometry import box

from catalog.reliability import RetryError, RetryPolicy, with_deadline, with_retries
from catalog.search import SearchRequest, search


class Trickle(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        try:
            for byte in b'{"type": "Catalog", "id": "slow", "links": []}':
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)  # well inside any read timeout
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def trickling():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_trickling_stac_api_is_given_up_at_the_deadline(trickling):
    policy = RetryPolicy(attempts=2, base_delay=0.1, max_delay=0.1, timeout=5, deadline=1.0, total_deadline=10)
    request = SearchRequest("c", box(0, 0, 1, 1), datetime(2020, 1, 1, tzinfo=UTC), None)
    start = time.monotonic()
    with pytest.raises(RetryError, match=r"2 attempts failed, last: timeout: .* longer than its deadline of 1 s"):
        search(trickling, request, policy=policy)
    assert time.monotonic() - start < 5  # not 2 x (47 bytes x 0.2 s)


def test_retries_stop_at_the_total_deadline():
    calls = []

    def failing():
        calls.append(time.monotonic())
        raise TimeoutError("slow")

    policy = RetryPolicy(attempts=50, base_delay=0.2, max_delay=0.2, jitter=0, deadline=0.5, total_deadline=1.0)
    with pytest.raises(RetryError, match=r"gave up at the total deadline of 1 s"):
        with_retries(failing, policy, "op", sleep=time.sleep)
    assert len(calls) <= 6


def test_with_deadline_returns_and_raises_like_the_call():
    assert with_deadline(lambda: 42, 1.0, "quick") == 42
    with pytest.raises(KeyError):
        with_deadline(lambda: {}["x"], 1.0, "failing")
