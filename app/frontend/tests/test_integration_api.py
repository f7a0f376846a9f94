"""The frontend against the REAL API (app/api) served over HTTP, on real PostgreSQL and Redis.

The API runs in this process under werkzeug's ``make_server`` on a free loopback port, on a
fresh database migrated with Flask-Migrate; the admin is created with the API's own
``create-admin`` command and the catalogue through the API's HTTP endpoints.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import make_server

from frontend import create_app
from frontend.api_client import APIClient
from frontend.tests.conftest import csrf_token

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"  # noqa: S105 - throwaway test database
CUSTOMER_PASSWORD = "customer-pass-1"
PRODUCT_COUNT = 15  # more than one page of 12


@dataclass
class LiveAPI:
    """The running API, its admin client and what was created in it."""

    url: str
    client: APIClient
    admin_token: str
    category: dict[str, Any]
    other_category: dict[str, Any]
    products: list[dict[str, Any]]


@pytest.fixture(scope="module")
def live_api(postgres_server, redis_server, tmp_path_factory) -> Iterator[LiveAPI]:
    """Serve ``api.create_app`` on a fresh, migrated database and seed it through the API."""
    import flask_migrate
    from api import create_app as create_api_app

    database = postgres_server.create_database()
    api_app = create_api_app(
        {
            "FLASK_ENV": "testing",
            "DATABASE_URL": postgres_server.url(database),
            "REDIS_URL": redis_server.url(5),
            "LOG_LEVEL": "WARNING",
        }
    )
    with api_app.app_context():
        flask_migrate.upgrade()
    password_file = tmp_path_factory.mktemp("admin") / "admin_password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    result = api_app.test_cli_runner().invoke(
        args=["create-admin", "--email", ADMIN_EMAIL, "--password-file", str(password_file)]
    )
    assert result.exit_code == 0, result.output

    server = make_server("127.0.0.1", 0, api_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    client = APIClient(url, retries=0, timeout=10)
    try:
        token = client.login(ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"]
        lighting = client.create_category(token, "Lighting", "lighting", "Lamps and bulbs")
        kitchen = client.create_category(token, "Kitchen", "kitchen", "Pots and pans")
        products = [
            client.create_product(
                token,
                name=f"Desk lamp {i:02d}",
                slug=f"desk-lamp-{i:02d}",
                description=f"Lamp number {i}",
                price=f"{10 + i}.50",
                stock=5,
                category_id=lighting["id"],
            )
            for i in range(PRODUCT_COUNT - 1)
        ]
        products.append(
            client.create_product(
                token,
                name="Copper kettle",
                slug="copper-kettle",
                description="Boils water in style",
                price="42.00",
                stock=3,
                category_id=kitchen["id"],
            )
        )
        yield LiveAPI(url, client, token, lighting, kitchen, products)
    finally:
        client.close()
        server.shutdown()
        server.server_close()


@pytest.fixture
def frontend(live_api, redis_server):
    """A frontend app configured to call the live API."""
    return create_app(
        {
            "FLASK_ENV": "testing",
            "API_URL": live_api.url,
            "REDIS_URL": redis_server.url(6),
            "RATELIMIT_LOGIN": "100000 per minute",
            "RATELIMIT_REGISTER": "100000 per minute",
        }
    )


def _register_and_login(client, email: str, password: str = CUSTOMER_PASSWORD) -> None:
    token = csrf_token(client.get("/register").get_data(as_text=True))
    response = client.post(
        "/register",
        data={
            "name": "Carla Customer",
            "email": email,
            "password": password,
            "confirm": password,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_product_list_shows_api_products_with_pagination(frontend, live_api):
    client = frontend.test_client()
    first = client.get("/")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert f"{PRODUCT_COUNT} products" in html
    assert "Lighting" in html and "Kitchen" in html
    assert len(re.findall(r'class="product-card"', html)) == 12
    assert "Page 1 of 2" in html
    second = client.get("/?page=2").get_data(as_text=True)
    assert len(re.findall(r'class="product-card"', second)) == PRODUCT_COUNT - 12


def test_category_filter_and_search_use_the_api(frontend, live_api):
    client = frontend.test_client()
    kitchen = client.get(f"/?category_id={live_api.other_category['id']}").get_data(as_text=True)
    assert "Copper kettle" in kitchen and "Desk lamp" not in kitchen
    assert "1 product<" in kitchen
    search = client.get("/?q=kettle").get_data(as_text=True)
    assert "Copper kettle" in search and "Desk lamp" not in search


def test_product_detail_shows_api_data(frontend, live_api):
    kettle = live_api.products[-1]
    response = frontend.test_client().get(f"/products/{kettle['id']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Copper kettle" in html and "42.00" in html and "Boils water in style" in html
    assert "Kitchen" in html
    assert "to order" in html  # anonymous: a login link instead of the form


def test_unknown_product_is_a_404_page(frontend, live_api):
    response = frontend.test_client().get("/products/999999")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_wrong_password_is_refused(frontend, live_api):
    client = frontend.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": "not-the-password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)


def test_register_login_order_and_my_orders(frontend, live_api):
    client = frontend.test_client()
    _register_and_login(client, "carla@example.com")
    assert "Carla Customer" in client.get("/").get_data(as_text=True)

    lamp = live_api.products[0]
    page = client.get(f"/products/{lamp['id']}").get_data(as_text=True)
    assert 'name="quantity"' in page
    response = client.post(
        f"/products/{lamp['id']}/order", data={"quantity": "2", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/orders"

    orders = client.get("/orders")
    assert orders.status_code == 200
    html = orders.get_data(as_text=True)
    assert "Order #" in html and "Order" in html and "placed" in html
    assert lamp["name"] in html
    assert "21.00" in html  # 2 x 10.50
    assert "3 in stock" in client.get(f"/products/{lamp['id']}").get_data(as_text=True)

    # The order is in the API, for this user.
    token = live_api.client.login("carla@example.com", CUSTOMER_PASSWORD)["access_token"]
    mine = live_api.client.list_orders(token)
    assert mine["total"] == 1
    assert mine["items"][0]["items"][0] == {
        **mine["items"][0]["items"][0],
        "product_id": lamp["id"],
        "quantity": 2,
    }


def test_order_beyond_stock_shows_the_api_message(frontend, live_api):
    client = frontend.test_client()
    _register_and_login(client, "dan@example.com")
    kettle = live_api.products[-1]
    page = client.get(f"/products/{kettle['id']}").get_data(as_text=True)
    response = client.post(
        f"/products/{kettle['id']}/order",
        data={"quantity": "50", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "flash-error" in html and "Copper kettle" in html
    assert "You have no orders yet" in client.get("/orders").get_data(as_text=True)


def test_frontend_is_ready_against_the_live_api(frontend, live_api):
    response = frontend.test_client().get("/health/ready")
    assert response.status_code == 200, response.json
    assert response.json["data"]["checks"]["api"]["ok"] is True


def test_registering_a_taken_email_changes_nothing_and_reveals_nothing(frontend, live_api):
    """Issue 13: the admin's address registered again answers like a new one, account intact."""
    client = frontend.test_client()
    token = csrf_token(client.get("/register").get_data(as_text=True))
    response = client.post(
        "/register",
        data={
            "name": "Mallory",
            "email": ADMIN_EMAIL,
            "password": "mallory-password",
            "confirm": "mallory-password",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert "You can now log in" in client.get("/login").get_data(as_text=True)
    assert live_api.client.login(ADMIN_EMAIL, ADMIN_PASSWORD)["user"]["is_admin"] is True
