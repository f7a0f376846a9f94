"""Issue 13: every bad input gets a 4xx envelope with a code, never a 500 or a silent coercion."""

import pytest
from api.extensions import db
from api.models import Order, Product
from conftest import assert_envelope_error, make_product


def _post_raw(client, path, raw: bytes, headers=None):
    return client.post(path, data=raw, content_type="application/json", headers=headers or {})


# --- Text: NUL, control characters, blank names -------------------------------------------


def test_nul_in_login_email_is_400_not_500(client):
    resp = client.post("/api/auth/login", json={"email": "a\x00@example.com", "password": "x"})
    body = assert_envelope_error(resp, 400, "email", code="validation_error")
    assert body["fields"] == {"email": ["Must not contain control characters."]}
    assert body["data"] == {"fields": body["fields"]}


def test_nul_in_register_name_is_400_not_500(client):
    resp = client.post(
        "/api/auth/register",
        json={"email": "nul@example.com", "password": "longenough", "name": "Bo\x00b"},
    )
    body = assert_envelope_error(resp, 400, "name", code="validation_error")
    assert body["fields"]["name"] == ["Must not contain control characters."]


@pytest.mark.parametrize("q", ["\x00", "tea\x00", "line\nbreak", "\x1b[31m", "\x85"])
def test_control_characters_in_search_are_400_not_500(client, q):
    resp = client.get("/api/products", query_string={"q": q})
    body = assert_envelope_error(resp, 400, "q", code="validation_error")
    assert "q" in body["fields"]


@pytest.mark.parametrize("name", ["   ", "\u3000", "\u00a0\u200b", ""])
def test_blank_names_are_refused_not_stored_empty(client, admin, name):
    resp = client.post("/api/categories", json={"name": name}, headers=admin["headers"])
    assert_envelope_error(resp, 400, "name", code="validation_error")
    resp = client.post(
        "/api/auth/register",
        json={"email": "blank@example.com", "password": "longenough", "name": name},
    )
    assert_envelope_error(resp, 400, "name")


def test_names_are_stored_without_surrounding_spaces(client, admin):
    resp = client.post("/api/categories", json={"name": "  Green tea "}, headers=admin["headers"])
    assert resp.status_code == 201
    assert resp.get_json()["data"]["name"] == "Green tea"


def test_lone_surrogate_is_400_not_500(client, admin):
    raw = b'{"name": "\\ud800", "price": 1}'
    resp = _post_raw(client, "/api/products", raw, admin["headers"])
    body = assert_envelope_error(resp, 400, "name")
    assert body["fields"]["name"] == ["Must be valid Unicode text."]


def test_descriptions_keep_line_breaks_but_refuse_nul(client, admin):
    h = admin["headers"]
    ok = client.post(
        "/api/products", json={"name": "A", "price": 1, "description": "a\nb\tc"}, headers=h
    )
    assert ok.status_code == 201 and ok.get_json()["data"]["description"] == "a\nb\tc"
    resp = client.post(
        "/api/products", json={"name": "B", "price": 1, "description": "a\x00"}, headers=h
    )
    assert_envelope_error(resp, 400, "description")


# --- JSON itself ---------------------------------------------------------------------------


def test_deeply_nested_json_is_400_not_recursion_error(client):
    resp = _post_raw(client, "/api/auth/login", b"[" * 100_000)
    body = assert_envelope_error(resp, 400, "Invalid JSON body", code="invalid_json")
    assert body["fields"] == {"body": ["Invalid JSON body: nested deeper than 32 levels."]}


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    name = "[" * 5000
    resp = client.post("/api/auth/login", json={"email": name[:255], "password": "{" * 100})
    assert_envelope_error(resp, 401, code="unauthorized")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "a@b.co", "password": ' + b"1" * 5000 + b"}",
        b'{"email": "a@b.co", "password": NaN}',
        b'{"email": "a@b.co", "password": Infinity}',
        b'{"email": "a@b.co", "password": "x"',
        b"\xff\xfe",
    ],
    ids=["5000-digit-integer", "NaN", "Infinity", "truncated", "not-utf8"],
)
def test_json_python_would_mishandle_is_400(client, raw):
    resp = _post_raw(client, "/api/auth/login", raw)
    assert_envelope_error(resp, 400, "Invalid JSON body", code="invalid_json")


# --- Numbers: strict integers, exact money -------------------------------------------------


@pytest.mark.parametrize("quantity", [1.7, 2.0, True, "2", None])
def test_quantity_must_be_a_json_integer(app, client, user, quantity):
    pid = make_product(app, "Pen", "1.00", 10)
    resp = client.post(
        "/api/orders",
        headers=user["headers"],
        json={"items": [{"product_id": pid, "quantity": quantity}]},
    )
    body = assert_envelope_error(resp, 400, "items", code="validation_error")
    assert body["fields"]["items"]["0"]["quantity"]
    with app.app_context():
        assert db.session.get(Product, pid).stock == 10  # 1.7 used to become 1 and sell one


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("1.005", "Must have at most two decimal places."),
        (1.005, 'Not a valid amount: use an integer or a string such as "12.50".'),
        (12.5, 'Not a valid amount: use an integer or a string such as "12.50".'),
        ("100000000", "Must be less than or equal to 99999999.99."),
        ("-1", "Must be greater than or equal to 0."),
        ("1e2", 'Not a valid amount: use an integer or a string such as "12.50".'),
        ("NaN", 'Not a valid amount: use an integer or a string such as "12.50".'),
        (True, 'Not a valid amount: use an integer or a string such as "12.50".'),
    ],
)
def test_prices_are_exact_or_refused(client, admin, price, message):
    resp = client.post(
        "/api/products", json={"name": "A", "price": price}, headers=admin["headers"]
    )
    body = assert_envelope_error(resp, 400, "price", code="validation_error")
    assert body["fields"] == {"price": [message]}


@pytest.mark.parametrize(("price", "stored"), [("12.5", "12.50"), (7, "7.00"), ("0", "0.00")])
def test_valid_prices_are_stored_exactly(client, admin, price, stored):
    resp = client.post(
        "/api/products", json={"name": "A", "price": price}, headers=admin["headers"]
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["data"]["price"] == stored


@pytest.mark.parametrize("value", ["1e-999999999", "1e999999999", "0.001", "abc", "-0.5"])
def test_price_filters_out_of_numeric_range_are_400(client, value):
    for name in ("min_price", "max_price"):
        resp = client.get("/api/products", query_string={name: value})
        assert_envelope_error(resp, 400, name, code="validation_error")


@pytest.mark.parametrize("flag", ["1", "yes", "True", ""])
def test_query_booleans_are_true_or_false(client, flag):
    assert_envelope_error(client.get("/api/products", query_string={"in_stock": flag}), 400)


def test_order_total_beyond_numeric_10_2_is_refused_and_sells_nothing(app, client, user):
    pid = make_product(app, "Gold bar", "99999999.99", 50)
    resp = client.post(
        "/api/orders",
        headers=user["headers"],
        json={"items": [{"product_id": pid, "quantity": 2}]},
    )
    assert_envelope_error(resp, 409, "exceeds the maximum", code="order_too_large")
    with app.app_context():
        assert db.session.get(Product, pid).stock == 50
        assert db.session.query(Order).count() == 0


# --- Unicode slugs -------------------------------------------------------------------------


def test_unicode_names_get_distinct_transliterated_slugs(client, admin):
    h = admin["headers"]
    slugs = []
    for name in ("Чай", "緑茶", "Crème brûlée"):
        resp = client.post("/api/categories", json={"name": name}, headers=h)
        assert resp.status_code == 201, resp.get_json()
        slugs.append(resp.get_json()["data"]["slug"])
    assert slugs == ["chai", "lu-cha", "creme-brulee"]
    resp = client.post("/api/products", json={"name": "Чай с мятой", "price": 3}, headers=h)
    assert resp.get_json()["data"]["slug"] == "chai-s-miatoi"


def test_seed_demo_slugs_are_unchanged(app):
    from api.services.common import slugify

    assert [slugify(n) for n in ("Books", "USB-C Cable", "The Pragmatic Programmer")] == [
        "books",
        "usb-c-cable",
        "the-pragmatic-programmer",
    ]
    assert slugify("🍵") == "item"
    assert len(slugify("x" * 500)) == 140
