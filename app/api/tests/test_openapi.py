def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_openapi_document(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    paths = doc["paths"]
    for path in (
        "/api/products",
        "/api/products/{product_id}",
        "/api/orders",
        "/api/orders/{order_id}",
        "/api/auth/login",
        "/api/health/ready",
    ):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/products"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/products/{product_id}"])
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/")
        section, name = ref.split("/")[2:4]
        assert name in doc["components"][section], ref
    # Responses are documented in the envelope.
    ok = paths["/api/products"]["post"]["responses"]["201"]["content"]["application/json"]
    envelope = schemas[ok["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"success", "data", "error"}
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/orders"]["post"]["security"] == [{"bearerAuth": []}]
