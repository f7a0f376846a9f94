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
    }
    pid = product["id"]

    assert client.get(f"/api/products/{pid}").get_json()["data"]["name"] == "Hammer"
    resp = client.patch(f"/api/products/{pid}", json={"price": 13, "stock": 0}, headers=h)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert (data["price"], data["stock"], data["name"]) == ("13.00", 0, "Hammer")

    resp = client.put(f"/api/products/{pid}", json={"name": "Mallet", "price": "9.99"}, headers=h)
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
    resp = client.post(
        "/api/products", json={"name": "A", "price": "1", "category_id": 42}, headers=h
    )
    assert_envelope_error(resp, 400, "category_id")
    assert (
        client.post("/api/products", json={"name": "A", "price": 1}, headers=h).status_code == 201
    )
    assert_envelope_error(
        client.post("/api/products", json={"name": "A", "price": 1}, headers=h), 409, "slug"
    )
    assert_envelope_error(client.patch("/api/products/999", json={"stock": 1}, headers=h), 404)


def test_listing_pagination_filters_search_sort(app, client):
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
    assert _ids(client.get("/api/products?include_inactive=true&sort=-name")) == [4, 3, 2, 1]

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
    client.patch(f"/api/products/{pid}", json={"name": "Zucchini"}, headers=admin["headers"])
    names = [p["name"] for p in client.get("/api/products").get_json()["data"]["items"]]
    assert names == ["Banana", "Zucchini"]
