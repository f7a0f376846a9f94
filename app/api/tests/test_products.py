import pytest
import redis
from conftest import assert_envelope_error, make_product


def _ids(resp):
    assert resp.status_code == 200, resp.get_json()
    return [p["id"] for p in resp.get_json()["data"]["items"]]


def test_product_crud(client, admin, app):
    h = admin["headers"]
    cat = client.post("/api/categories", json={"name": "Tools"}, headers=h).get_json()["data"]
    resp = client.post(
        "/api/products",
        headers=h,
        json={
            "name": "Hammer",
            "price": "12.5",
            "stock": 3,
            "category_id": cat["id"],
            "description": "Steel",
        },
    )
    assert resp.status_code == 201
    product = resp.get_json()["data"]
    assert product["price"] == "12.50" and product["stock"] == 3 and product["slug"] == "hammer"
    assert product["is_active"] is True
    assert set(product) == {
        "id",
        "name",
        "slug",
        "description",
        "price",
        "stock",
        "category_id",
        "is_active",
        "created_at",
        "updated_at",
        "version",
    }
    pid = product["id"]
    assert product["version"] == 1

    assert client.get(f"/api/products/{pid}").get_json()["data"]["name"] == "Hammer"
    # Updates name the version they read (issue 13: optimistic concurrency).
    resp = client.patch(
        f"/api/products/{pid}", json={"price": 13, "stock": 0, "version": 1}, headers=h
    )
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert (data["price"], data["stock"], data["name"], data["version"]) == (
        "13.00",
        0,
        "Hammer",
        2,
    )

    resp = client.put(
        f"/api/products/{pid}", json={"name": "Mallet", "price": "9.99", "version": 2}, headers=h
    )
    data = resp.get_json()["data"]
    assert resp.status_code == 200
    assert (data["name"], data["category_id"], data["stock"], data["slug"]) == (
        "Mallet",
        None,
        0,
        "hammer",
    )

    resp = client.delete(f"/api/products/{pid}", headers=h)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert_envelope_error(client.get(f"/api/products/{pid}"), 404, f"Product {pid}")


def test_product_write_errors(client, admin, user):
    h = admin["headers"]
    assert_envelope_error(client.post("/api/products", json={"name": "A", "price": 1}), 401)
    resp = client.post("/api/products", json={"name": "A", "price": 1}, headers=user["headers"])
    assert_envelope_error(resp, 403)
    resp = client.post("/api/products", json={"name": "A", "price": -1}, headers=h)
    body = assert_envelope_error(resp, 400, "Validation failed: price")
    assert body["data"] == {"fields": {"price": ["Must be greater than or equal to 0."]}}
    # A category that does not exist is a conflict with the catalogue (409), not a malformed
    # request: the body is valid by the document (issue 13, schemathesis' positive data check).
    resp = client.post(
        "/api/products", json={"name": "A", "price": "1", "category_id": 42}, headers=h
    )
    assert_envelope_error(resp, 409, "Category 42", code="unknown_reference")
    assert (
        client.post("/api/products", json={"name": "A", "price": 1}, headers=h).status_code == 201
    )
    assert_envelope_error(
        client.post("/api/products", json={"name": "A", "price": 1}, headers=h), 409, "slug"
    )
    resp = client.patch("/api/products/999", json={"stock": 1, "version": 1}, headers=h)
    assert_envelope_error(resp, 404)


def test_listing_pagination_filters_search_sort(app, client, admin):
    make_product(app, "Apple", "1.00", 10, category="Fruit")
    make_product(app, "Banana", "2.00", 0)
    make_product(app, "Cherry 50%", "3.00", 1, description="red")
    make_product(app, "Durian", "4.00", 2, is_active=False)

    resp = client.get("/api/products?per_page=2&page=1")
    data = resp.get_json()["data"]
    assert (data["page"], data["per_page"], data["total"], data["pages"]) == (1, 2, 3, 2)
    assert [p["name"] for p in data["items"]] == ["Apple", "Banana"]
    assert [
        p["name"] for p in client.get("/api/products?page=2&per_page=2").get_json()["data"]["items"]
    ] == ["Cherry 50%"]

    assert _ids(client.get("/api/products?sort=-price")) == [3, 2, 1]
    assert _ids(client.get("/api/products?min_price=1.5&max_price=3")) == [2, 3]
    assert _ids(client.get("/api/products?in_stock=true")) == [1, 3]
    assert _ids(client.get("/api/products?in_stock=false")) == [2]
    assert _ids(client.get("/api/products?q=APP")) == [1]
    assert _ids(client.get("/api/products?q=red")) == [3]
    assert _ids(client.get("/api/products?q=50%25")) == [3]
    assert _ids(client.get("/api/products?q=%25")) == [3]
    assert _ids(client.get("/api/products?category_id=1")) == [1]
    inactive = client.get(
        "/api/products?include_inactive=true&sort=-name", headers=admin["headers"]
    )
    assert _ids(inactive) == [4, 3, 2, 1]

    body = assert_envelope_error(client.get("/api/products?per_page=101"), 400, "per_page")
    assert "per_page" in body["data"]["fields"]
    assert_envelope_error(client.get("/api/products?sort=bogus"), 400, "sort")
    assert_envelope_error(client.get("/api/products?page=0"), 400, "page")


def test_listing_is_cached_and_invalidated_on_writes(app, client, admin, redis_url):
    pid = make_product(app, "Apple", "1.00", 10)
    assert _ids(client.get("/api/products")) == [pid]
    keys = redis.Redis.from_url(redis_url).keys("api:products:v*")
    assert len(keys) == 1

    # A row written behind the API's back is not seen: the listing comes from Redis.
    make_product(app, "Banana", "2.00", 1)
    assert _ids(client.get("/api/products")) == [pid]
    # Different query args are a different cache entry.
    assert len(_ids(client.get("/api/products?per_page=5"))) == 2

    # Any write through the API invalidates every listing.
    resp = client.post("/api/categories", json={"name": "Misc"}, headers=admin["headers"])
    assert resp.status_code == 201
    assert len(_ids(client.get("/api/products"))) == 2
    resp = client.patch(
        f"/api/products/{pid}", json={"name": "Zucchini", "version": 1}, headers=admin["headers"]
    )
    assert resp.status_code == 200
    names = [p["name"] for p in client.get("/api/products").get_json()["data"]["items"]]
    assert names == ["Banana", "Zucchini"]


# --- Issue 13: withdrawn products are for admins only -------------------------------------


def test_withdrawn_product_is_hidden_from_everyone_but_admins(app, client, user, admin):
    pid = make_product(app, "Withdrawn", "1.00", 5, is_active=False)
    assert_envelope_error(client.get(f"/api/products/{pid}"), 404, f"Product {pid}")
    assert_envelope_error(client.get(f"/api/products/{pid}", headers=user["headers"]), 404)
    resp = client.get(f"/api/products/{pid}", headers=admin["headers"])
    assert resp.status_code == 200 and resp.get_json()["data"]["is_active"] is False
    # A token that is sent must be valid, even where anonymous callers are welcome.
    bad = {"Authorization": "Bearer not.a.jwt"}
    assert_envelope_error(client.get(f"/api/products/{pid}", headers=bad), 401)


def test_include_inactive_needs_an_admin(app, client, user, admin):
    make_product(app, "Active", "1.00", 5)
    make_product(app, "Withdrawn", "1.00", 5, is_active=False)
    url = "/api/products?include_inactive=true"
    assert_envelope_error(client.get(url), 401, code="unauthorized")
    assert_envelope_error(client.get(url, headers=user["headers"]), 403, "Admin", "forbidden")
    assert [
        p["name"] for p in client.get(url, headers=admin["headers"]).get_json()["data"]["items"]
    ] == [
        "Active",
        "Withdrawn",
    ]
    # The cached admin listing is not served to anyone else.
    assert _ids(client.get("/api/products?include_inactive=false")) == [1]
    assert_envelope_error(client.get(url), 401)


# --- Issue 13: an update cannot overwrite a change it has not seen ------------------------


def test_stale_version_is_409_and_keeps_the_orders_decrement(app, client, admin, user):
    h = admin["headers"]
    pid = make_product(app, "Lamp", "10.00", 5)
    read = client.get(f"/api/products/{pid}").get_json()["data"]
    assert (read["stock"], read["version"]) == (5, 1)
    # A customer buys two while the admin's form is open.
    order = client.post(
        "/api/orders", headers=user["headers"], json={"items": [{"product_id": pid, "quantity": 2}]}
    )
    assert order.status_code == 201
    resp = client.patch(
        f"/api/products/{pid}", json={"stock": 10, "version": read["version"]}, headers=h
    )
    body = assert_envelope_error(resp, 409, "changed by someone else", code="version_conflict")
    assert "version 2" in body["error"]
    resp = client.put(
        f"/api/products/{pid}", json={"name": "Lamp", "price": "9.00", "version": 1}, headers=h
    )
    assert_envelope_error(resp, 409, code="version_conflict")
    assert client.get(f"/api/products/{pid}").get_json()["data"]["stock"] == 3
    # Re-read, re-apply: accepted.
    resp = client.patch(f"/api/products/{pid}", json={"stock": 13, "version": 2}, headers=h)
    assert resp.status_code == 200
    assert (resp.get_json()["data"]["stock"], resp.get_json()["data"]["version"]) == (13, 3)


def test_updates_must_name_a_version(app, client, admin):
    pid = make_product(app, "Lamp", "10.00", 5)
    h = admin["headers"]
    for method in (client.patch, client.put):
        resp = method(f"/api/products/{pid}", json={"name": "Lamp", "price": 1}, headers=h)
        body = assert_envelope_error(resp, 400, "version", code="validation_error")
        assert body["fields"] == {"version": ["Missing data for required field."]}
    # Creating one takes no version (it is the server's).
    resp = client.post("/api/products", json={"name": "New", "price": 1, "version": 7}, headers=h)
    assert_envelope_error(resp, 400, "version")


def test_version_guards_the_row_between_read_and_write(app):
    """A write between our read and our UPDATE (no HTTP needed to interleave it) is refused."""
    from api.errors import ConflictError
    from api.extensions import db
    from api.models import Product
    from api.services import catalog
    from sqlalchemy import text

    pid = make_product(app, "Lamp", "10.00", 5)
    with app.app_context():
        product = db.session.get(Product, pid)
        assert product.version == 1
        with db.engine.connect() as other:
            other.execute(
                text("UPDATE products SET stock = 4, version = version + 1 WHERE id = :id"),
                {"id": pid},
            )
            other.commit()
        with pytest.raises(ConflictError) as refused:
            catalog.save_product({"stock": 50, "version": 1}, product)
        assert refused.value.code == "version_conflict"
        db.session.rollback()
        assert db.session.get(Product, pid).stock == 4


def test_product_by_id_is_one_query_and_no_orm_instance(app, client, admin):
    from api.extensions import db
    from api.models import Product
    from sqlalchemy import event

    h = admin["headers"]
    cat = client.post("/api/categories", json={"name": "Tools"}, headers=h).get_json()["data"]
    body = {"name": "Saw", "price": "7.5", "stock": 2, "category_id": cat["id"], "description": "é"}
    created = client.post("/api/products", json=body, headers=h).get_json()["data"]
    statements, loads = [], []

    def count_statement(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def count_load(target, _context):
        loads.append(target)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count_statement)
    event.listen(Product, "load", count_load)
    try:
        resp = client.get(f"/api/products/{created['id']}")
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
        event.remove(Product, "load", count_load)
    assert resp.status_code == 200
    # The same product, field for field, as the ORM instance the creation answered with.
    assert resp.get_json()["data"] == created
    assert len(statements) == 1, statements
    assert loads == []


def test_cached_listing_is_sent_as_stored(app, client, redis_url):
    import json

    make_product(app, "Crème brûlée", "1.00", 3, description='a, b: "c"')
    miss = client.get("/api/products?per_page=5")
    hit = client.get("/api/products?per_page=5")
    assert hit.status_code == 200 and hit.headers["Content-Type"] == "application/json"
    # From PostgreSQL or from the cache, the same bytes, and those jsonify writes.
    assert miss.get_data() == hit.get_data()
    cache = redis.Redis.from_url(redis_url)
    (key,) = cache.keys("api:products:v*:*")
    stored = cache.get(key)
    assert hit.get_data() == b'{"success":true,"data":' + stored + b',"error":null}\n'
    with app.app_context():
        expected = app.json.response({"success": True, "data": json.loads(stored), "error": None})
    assert hit.get_data() == expected.get_data()
    assert hit.get_json()["data"]["items"][0]["name"] == "Crème brûlée"
    # A hit is not parsed and dumped again: an entry with other spacing is sent with it.
    spaced = json.dumps(json.loads(stored), indent=1).encode()
    cache.set(key, spaced, keepttl=True)
    again = client.get("/api/products?per_page=5")
    assert again.get_data() == b'{"success":true,"data":' + spaced + b',"error":null}\n'
    assert again.get_json() == hit.get_json()
