"""HTTP client for the Backend Framework API.

One :class:`APIClient` per application; it keeps pooled ``requests`` sessions. Idempotent
calls (GET) are retried a bounded number of times with backoff on connection errors, read
errors and 502/503/504; calls that change state (POST) are sent exactly once, because a retried
order could be placed twice.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# The visitor's address (as the frontend's trusted proxy saw it), for the API's rate limits.
FORWARDED_FOR_HEADER = "X-Forwarded-For"
_RETRY_STATUSES = frozenset({502, 503, 504})


class APIUnavailable(Exception):  # noqa: N818 - name fixed by the brief
    """The API could not be reached or kept failing (connection error, timeout, 5xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Create the error.

        Args:
            message: What went wrong, for the logs.
            status: The last HTTP status seen, if any.
        """
        super().__init__(message)
        self.message = message
        self.status = status


class APIError(Exception):
    """The API answered with a client error (4xx)."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: dict[str, list[str]] | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Create the error.

        Args:
            status: The HTTP status code.
            message: The envelope's ``error`` text.
            fields: Per-field validation messages (400 responses), if any.
            retry_after: The ``Retry-After`` header of a 429, if any.
        """
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.retry_after = retry_after


class _ClosingResponse(http.client.HTTPResponse):
    """An answer after which the connection is closed, whatever its headers say."""

    def begin(self) -> None:
        super().begin()
        self.will_close = True


class _OneAnswerConnection(HTTPConnection):
    response_class = _ClosingResponse


class _OneAnswerPool(HTTPConnectionPool):
    ConnectionCls = _OneAnswerConnection


class _OneAnswerAdapter(HTTPAdapter):
    """Plain-HTTP calls each on a new connection, never one the API has already closed.

    uWSGI's http-socket (the API's in-network port) closes the connection after every answer
    but answers HTTP/1.1 with no "Connection: close", so urllib3 pools the dead connection and
    the next call may be written on it as its FIN arrives: a reset, a GET retried for nothing,
    a POST (sent once) failed, or a body read that dies with a ValueError. Each call was a new
    TCP connection anyway; now the pool knows it.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": _OneAnswerPool,
        }


def _session(retry: Retry, pool_size: int) -> requests.Session:
    session = requests.Session()
    # The API is reached on the internal network, never through a proxy named in the
    # environment (Docker can inject one into containers) nor with .netrc credentials; and
    # without trust_env requests looks neither up on every call.
    session.trust_env = False
    session.mount(
        "http://",
        _OneAnswerAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_size),
    )
    session.mount(
        "https://", HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_size)
    )
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "bf-frontend"
    return session


class APIClient:
    """Calls the API's endpoints and unwraps its ``{success, data, error}`` envelope."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        retries: int = 2,
        backoff: float = 0.2,
        request_id_provider: Callable[[], str | None] | None = None,
        pool_size: int = 10,
        client_address_provider: Callable[[], str | None] | None = None,
        categories_ttl: float = 0.0,
    ) -> None:
        """Create a client.

        Args:
            base_url: The API's root URL, e.g. ``http://api:8081`` (no ``/api`` suffix).
            timeout: Read timeout in seconds for one attempt.
            connect_timeout: Connect timeout in seconds for one attempt.
            retries: How many times an idempotent call is retried after the first attempt.
            backoff: urllib3 backoff factor in seconds between retries.
            request_id_provider: Returns the current request id to forward as X-Request-ID.
            pool_size: Connections kept per host (one per uWSGI thread is enough).
            client_address_provider: Returns the visitor's address, sent as X-Forwarded-For.
            categories_ttl: Seconds :meth:`list_categories` reuses its last answer (0: never);
                categories change rarely and every shop page shows them.
        """
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(connect_timeout, timeout), timeout)
        self.retries = retries
        self._request_id_provider = request_id_provider
        self._client_address_provider = client_address_provider
        self.categories_ttl = categories_ttl
        self._categories: tuple[float, list[dict[str, Any]]] | None = None
        self._categories_lock = threading.Lock()
        idempotent_retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            backoff_factor=backoff,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        # urllib3 retries connection errors whatever the method; a separate session with no
        # retry at all is the only way to make sure a POST is sent once.
        self._idempotent = _session(idempotent_retry, pool_size)
        self._once = _session(
            Retry(total=0, read=False, redirect=0, raise_on_status=False), pool_size
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._idempotent.close()
        self._once.close()

    # -- plumbing -------------------------------------------------------------------------

    def _headers(self, token: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request_id = self._request_id_provider() if self._request_id_provider else None
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        address = self._client_address_provider() if self._client_address_provider else None
        if address:
            headers[FORWARDED_FOR_HEADER] = address
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: float | tuple[float, float] | None = None,
        retry: bool = True,
    ) -> Any:
        """Send one call and return the envelope's ``data``.

        Args:
            method: HTTP method; only GET/HEAD/OPTIONS are retried.
            path: Path under the base URL, e.g. ``/api/products``.
            token: JWT for the Authorization header.
            params: Query parameters; None values are dropped.
            json: JSON body.
            timeout: Override of the (connect, read) timeouts.
            retry: False sends even a GET only once (health probes).

        Returns:
            The ``data`` member of the envelope (None for 204).

        Raises:
            APIUnavailable: Connection error, timeout, or a 5xx after the allowed retries.
            APIError: A 4xx answer.
        """
        method = method.upper()
        idempotent = method in {"GET", "HEAD", "OPTIONS"}
        session = self._idempotent if idempotent and retry else self._once
        url = f"{self.base_url}{path}"
        clean_params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = session.request(
                method,
                url,
                params=clean_params or None,
                json=json,
                headers=self._headers(token),
                timeout=timeout or self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            log.warning("API call failed", extra={"method": method, "url": url, "error": str(exc)})
            raise APIUnavailable(f"{method} {path}: {exc.__class__.__name__}") from exc

        status = response.status_code
        if status == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if status >= 500:
            log.warning("API answered %s", status, extra={"method": method, "url": url})
            raise APIUnavailable(f"{method} {path}: HTTP {status}", status=status)
        if not isinstance(body, dict) or "success" not in body:
            if status >= 400:
                raise APIError(
                    status,
                    f"Unexpected answer from the API (HTTP {status})",
                    retry_after=response.headers.get("Retry-After"),
                )
            raise APIUnavailable(f"{method} {path}: answer is not the JSON envelope", status)
        if status >= 400 or not body.get("success"):
            data = body.get("data")
            fields = data.get("fields") if isinstance(data, dict) else None
            raise APIError(
                status,
                str(body.get("error") or f"HTTP {status}"),
                fields,
                retry_after=response.headers.get("Retry-After"),
            )
        return body.get("data")

    # -- endpoints ------------------------------------------------------------------------

    def health_live(self, timeout: float | None = None) -> Any:
        """GET /api/health/live (no retry budget beyond the client's)."""
        return self.request("GET", "/api/health/live", timeout=timeout)

    def register(self, email: str, password: str, name: str) -> dict[str, Any]:
        """POST /api/auth/register; returns the new user."""
        return self.request(
            "POST", "/api/auth/register", json={"email": email, "password": password, "name": name}
        )

    def login(self, email: str, password: str) -> dict[str, Any]:
        """POST /api/auth/login; returns ``{"access_token", "user"}``."""
        return self.request("POST", "/api/auth/login", json={"email": email, "password": password})

    def logout(self, token: str) -> None:
        """POST /api/auth/logout: the API revokes every token of the account."""
        self.request("POST", "/api/auth/logout", token=token)

    def me(self, token: str) -> dict[str, Any]:
        """GET /api/auth/me."""
        return self.request("GET", "/api/auth/me", token=token)

    def list_categories(self) -> list[dict[str, Any]]:
        """GET /api/categories, reused for ``categories_ttl`` seconds."""
        cached = self._categories
        if cached is not None and time.monotonic() - cached[0] < self.categories_ttl:
            return cached[1]
        categories = self.request("GET", "/api/categories") or []
        if self.categories_ttl > 0:
            with self._categories_lock:
                self._categories = (time.monotonic(), categories)
        return categories

    def create_category(self, token: str, name: str, slug: str, description: str = "") -> Any:
        """POST /api/categories (admin)."""
        payload = {"name": name, "slug": slug, "description": description}
        return self.request("POST", "/api/categories", token=token, json=payload)

    def list_products(
        self,
        page: int = 1,
        per_page: int = 20,
        category_id: int | None = None,
        q: str | None = None,
        sort: str | None = None,
        in_stock: bool | None = None,
    ) -> dict[str, Any]:
        """GET /api/products; returns ``{"items", "page", "per_page", "total", "pages"}``."""
        params: dict[str, Any] = {
            "page": page,
            "per_page": per_page,
            "category_id": category_id,
            "q": q,
            "sort": sort,
            "in_stock": "true" if in_stock else None,
        }
        return self.request("GET", "/api/products", params=params)

    def get_product(self, product_id: int) -> dict[str, Any]:
        """GET /api/products/<id>."""
        return self.request("GET", f"/api/products/{int(product_id)}")

    def create_product(self, token: str, **fields: Any) -> dict[str, Any]:
        """POST /api/products (admin)."""
        return self.request("POST", "/api/products", token=token, json=fields)

    def create_order(self, token: str, items: list[dict[str, int]]) -> dict[str, Any]:
        """POST /api/orders with ``[{"product_id", "quantity"}]``; sent exactly once."""
        return self.request("POST", "/api/orders", token=token, json={"items": items})

    def list_orders(self, token: str, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """GET /api/orders (own orders)."""
        return self.request(
            "GET", "/api/orders", token=token, params={"page": page, "per_page": per_page}
        )

    def get_order(self, token: str, order_id: int) -> dict[str, Any]:
        """GET /api/orders/<id>."""
        return self.request("GET", f"/api/orders/{int(order_id)}", token=token)
