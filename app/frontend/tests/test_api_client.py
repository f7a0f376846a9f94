"""APIClient against a real HTTP server on a loopback socket (no mocked ``requests``)."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from frontend.api_client import APIClient, APIError, APIUnavailable
from frontend.tests.conftest import free_port
from frontend.tests.scripted_server import Action, fail, ok


def _client(url: str, **kwargs) -> APIClient:
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 2.0)
    return APIClient(url, **kwargs)


def test_get_is_retried_after_a_503_and_then_succeeds(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products/7", fail(503, "postgres unavailable"), ok({"id": 7}))
    assert _client(url).get_product(7) == {"id": 7}
    assert len(server.calls("GET", "/api/products/7")) == 2


def test_get_is_retried_after_a_dropped_connection(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/categories", Action(drop=True), ok([{"id": 1, "name": "Books"}]))
    assert _client(url).list_categories() == [{"id": 1, "name": "Books"}]
    assert len(server.calls("GET", "/api/categories")) == 2


def test_get_retries_are_bounded(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/categories", fail(503, "redis unavailable"))
    with pytest.raises(APIUnavailable) as info:
        _client(url, retries=2).list_categories()
    assert info.value.status == 503
    assert len(server.calls("GET", "/api/categories")) == 3


def test_get_read_timeout_is_retried_then_reported(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/categories", Action(200, {"success": True}, delay=1.0))
    started = time.monotonic()
    with pytest.raises(APIUnavailable):
        _client(url, retries=1, timeout=0.3).list_categories()
    assert time.monotonic() - started < 1.5
    assert len(server.calls("GET", "/api/categories")) == 2


def test_post_is_not_retried_on_a_503(scripted_api):
    server, url = scripted_api
    order = {"id": 1, "total": "2.00"}
    server.on("POST", "/api/orders", fail(503, "postgres unavailable"), ok(order, 201))
    with pytest.raises(APIUnavailable):
        _client(url).create_order("token", [{"product_id": 1, "quantity": 1}])
    assert len(server.calls("POST", "/api/orders")) == 1


def test_post_is_not_retried_after_a_dropped_connection(scripted_api):
    server, url = scripted_api
    server.on("POST", "/api/orders", Action(drop=True), ok({"id": 1}, 201))
    with pytest.raises(APIUnavailable):
        _client(url).create_order("token", [{"product_id": 1, "quantity": 1}])
    assert len(server.calls("POST", "/api/orders")) == 1


def test_post_sends_body_token_and_request_id(scripted_api):
    server, url = scripted_api
    server.on("POST", "/api/orders", ok({"id": 5, "total": "3.00"}, 201))
    client = _client(url, request_id_provider=lambda: "req-123")
    assert client.create_order("jwt-abc", [{"product_id": 2, "quantity": 3}])["id"] == 5
    (call,) = server.calls("POST", "/api/orders")
    assert call.body == {"items": [{"product_id": 2, "quantity": 3}]}
    assert call.headers["Authorization"] == "Bearer jwt-abc"
    assert call.headers["X-Request-ID"] == "req-123"


def test_empty_query_parameters_are_not_sent(scripted_api):
    server, url = scripted_api
    page = {"items": [], "page": 2, "per_page": 5, "total": 0, "pages": 0}
    server.on("GET", "/api/products", ok(page))
    assert _client(url).list_products(page=2, per_page=5, category_id=None, q="lamp") == page
    (call,) = server.calls("GET", "/api/products")
    assert call.query == {"page": ["2"], "per_page": ["5"], "q": ["lamp"]}


def test_validation_error_maps_to_api_error_with_fields(scripted_api):
    server, url = scripted_api
    fields = {"password": ["Shorter than minimum length 8."]}
    server.on(
        "POST", "/api/auth/register", fail(400, "Validation failed: password", {"fields": fields})
    )
    with pytest.raises(APIError) as info:
        _client(url).register("a@example.com", "short", "A")
    assert info.value.status == 400
    assert info.value.message == "Validation failed: password"
    assert info.value.fields == fields
    assert len(server.calls("POST", "/api/auth/register")) == 1


def test_client_errors_are_not_retried(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/products/9", fail(404, "Product not found"))
    with pytest.raises(APIError) as info:
        _client(url).get_product(9)
    assert (info.value.status, info.value.message) == (404, "Product not found")
    assert len(server.calls("GET", "/api/products/9")) == 1


def test_answer_without_envelope_is_an_error(scripted_api):
    server, url = scripted_api
    server.on("GET", "/api/categories", Action(200, ["not", "an", "envelope"]))
    with pytest.raises(APIUnavailable):
        _client(url).list_categories()


def test_connection_refused_is_unavailable():
    client = _client(f"http://127.0.0.1:{free_port()}", retries=1)
    with pytest.raises(APIUnavailable):
        client.list_categories()
    with pytest.raises(APIUnavailable):
        client.login("a@example.com", "password1")


def test_environment_proxies_and_netrc_are_ignored(scripted_api, monkeypatch, tmp_path):
    server, url = scripted_api
    server.on("GET", "/api/categories", ok([]))
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    # Straight to the API (the proxy would refuse the connection), with no Basic credentials.
    assert _client(url, retries=0).list_categories() == []
    (call,) = server.calls("GET", "/api/categories")
    assert "Authorization" not in call.headers


def _one_answer_per_connection_server() -> tuple[str, list[bytes], threading.Event]:
    """A server like uWSGI's http-socket: one HTTP/1.1 answer per connection, no keep-alive.

    It answers the first request of a connection without "Connection: close" and keeps the
    socket open; a second request on that connection is not answered (the socket is closed),
    which is what a client sees when it reuses a connection just as uWSGI closes it.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    stop = threading.Event()
    body = json.dumps({"success": True, "data": {"id": 1, "total": "2.00"}, "error": None})
    answer = (
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()

    def read_request(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
             if line.startswith(b"content-length:")),
            0,
        )  # fmt: skip
        while len(rest) < length:
            rest += conn.recv(65536)
        return data

    def serve(conn: socket.socket) -> None:
        with conn:
            seen.append(read_request(conn))
            conn.sendall(answer)
            if conn.recv(65536):  # a request on the used connection: dropped unanswered
                seen.append(b"REUSED")

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
        listener.close()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", seen, stop


def test_calls_never_reuse_a_connection_the_api_closes_after_each_answer():
    url, seen, stop = _one_answer_per_connection_server()
    try:
        client = _client(url)
        for _ in range(3):  # each POST is sent once: on a reused connection it would fail
            assert client.create_order("token", [{"product_id": 1, "quantity": 1}])["id"] == 1
        assert client.list_categories() == {"id": 1, "total": "2.00"}
    finally:
        stop.set()
    assert b"REUSED" not in seen
    assert len(seen) == 4
