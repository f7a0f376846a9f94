from conftest import assert_envelope_error, make_product


def test_category_crud(client, admin):
    h = admin["headers"]
    resp = client.post("/api/categories", json={"name": "Garden Tools"}, headers=h)
    assert resp.status_code == 201
    cat = resp.get_json()["data"]
    assert cat["slug"] == "garden-tools"
    assert set(cat) == {"id", "name", "slug", "description", "created_at", "updated_at"}

    resp = client.get("/api/categories")
    assert resp.status_code == 200
    assert [c["id"] for c in resp.get_json()["data"]] == [cat["id"]]
    assert client.get(f"/api/categories/{cat['id']}").get_json()["data"]["name"] == "Garden Tools"

    resp = client.patch(f"/api/categories/{cat['id']}", json={"description": "Rakes"}, headers=h)
    assert resp.status_code == 200
    assert resp.get_json()["data"]["description"] == "Rakes"
    assert resp.get_json()["data"]["name"] == "Garden Tools"

    resp = client.put(f"/api/categories/{cat['id']}", json={"name": "Garden"}, headers=h)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert (data["name"], data["slug"], data["description"]) == ("Garden", "garden", None)

    resp = client.delete(f"/api/categories/{cat['id']}", headers=h)
    assert resp.status_code == 204
    assert resp.get_data() == b""
    assert_envelope_error(client.get(f"/api/categories/{cat['id']}"), 404, "not found")


def test_category_writes_need_admin(client, user):
    assert_envelope_error(client.post("/api/categories", json={"name": "X"}), 401)
    resp = client.post("/api/categories", json={"name": "X"}, headers=user["headers"])
    assert_envelope_error(resp, 403, "Admin")
    # Authorisation is checked before the body: a bad body from a non-admin is still 403.
    resp = client.post("/api/categories", json={"bogus": 1}, headers=user["headers"])
    assert_envelope_error(resp, 403)


def test_category_conflicts_and_validation(app, client, admin):
    h = admin["headers"]
    assert client.post("/api/categories", json={"name": "Books"}, headers=h).status_code == 201
    assert_envelope_error(client.post("/api/categories", json={"name": "Books"}, headers=h), 409)
    resp = client.post("/api/categories", json={"name": "Other", "slug": "books"}, headers=h)
    assert_envelope_error(resp, 409, "slug")
    resp = client.post("/api/categories", json={"name": "Bad", "slug": "Not A Slug"}, headers=h)
    body = assert_envelope_error(resp, 400, "slug")
    assert "slug" in body["data"]["fields"]
    assert_envelope_error(client.post("/api/categories", json={}, headers=h), 400, "name")

    make_product(app, name="Lamp", category="Lighting")
    cats = client.get("/api/categories").get_json()["data"]
    lighting = next(c for c in cats if c["name"] == "Lighting")
    resp = client.delete(f"/api/categories/{lighting['id']}", headers=h)
    assert_envelope_error(resp, 409, "products")
    assert_envelope_error(client.delete("/api/categories/999", headers=h), 404)
