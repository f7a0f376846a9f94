"""Issue 13: PostgreSQL's refusals are 400/409, its timeouts 503/504; never a 500 or a harakiri."""

from api.extensions import db
from api.models import Product
from conftest import assert_envelope_error, make_product


def test_database_refusals_are_400_and_409_not_500(database_url, redis_url, app):
    from conftest import build_app
    from sqlalchemy import text

    probe = build_app(database_url, redis_url)

    @probe.route("/api/probe/<kind>")
    def run(kind: str):
        statements = {
            "text-as-integer": "SELECT 'tea'::integer",
            "numeric-overflow": "SELECT 123456789012::numeric(10, 2)",
            "nul-in-text": "SELECT convert_from('\\x00'::bytea, 'UTF8')",
            "duplicate-slug": "INSERT INTO categories (name, slug) VALUES ('A', 'a'), ('B', 'a')",
        }
        db.session.execute(text(statements[kind]))
        return "unreachable"

    client = probe.test_client()
    for kind in ("text-as-integer", "numeric-overflow", "nul-in-text"):
        assert_envelope_error(client.get(f"/api/probe/{kind}"), 400, code="invalid_value")
    assert_envelope_error(client.get("/api/probe/duplicate-slug"), 409, code="conflict")
    # The session was rolled back: the app keeps working.
    assert client.get("/api/categories").status_code == 200


def _order_while_row_locked(database_url: str, app, product_id: int, headers: dict):
    """Place an order while another transaction holds the product's row lock.

    Returns the response, and fails (rather than hangs) when the request is still waiting on
    the lock after 15 s: no timeout fired.
    """
    import threading

    import psycopg2

    holder = psycopg2.connect(database_url.replace("postgresql+psycopg2://", "postgresql://"))
    with holder.cursor() as cur:
        cur.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product_id,))
    result = {}

    def order() -> None:
        result["response"] = app.test_client().post(
            "/api/orders",
            headers=headers,
            json={"items": [{"product_id": product_id, "quantity": 1}]},
        )

    thread = threading.Thread(target=order)
    thread.start()
    thread.join(timeout=15)
    answered_while_locked = not thread.is_alive()
    holder.rollback()
    holder.close()
    thread.join(timeout=30)
    with app.app_context():
        db.engine.dispose()
    assert answered_while_locked, "the order waited on the row lock with no timeout"
    return result["response"]


def test_lock_timeout_answers_503_database_busy(database_url, redis_url, app, admin):
    from conftest import build_app

    pid = make_product(app, "Contested", "5.00", 3)
    quick = build_app(database_url, redis_url, DB_LOCK_TIMEOUT_MS=200)
    resp = _order_while_row_locked(database_url, quick, pid, admin["headers"])
    assert_envelope_error(resp, 503, "busy", code="database_busy")
    assert resp.headers.get("Retry-After")
    with app.app_context():
        assert db.session.get(Product, pid).stock == 3


def test_statement_timeout_answers_504(database_url, redis_url, app, admin):
    from conftest import build_app

    pid = make_product(app, "Contested", "5.00", 3)
    # lock_timeout 0 is "no limit": the statement timeout is what fires.
    slow = build_app(database_url, redis_url, DB_STATEMENT_TIMEOUT_MS=300, DB_LOCK_TIMEOUT_MS=0)
    resp = _order_while_row_locked(database_url, slow, pid, admin["headers"])
    assert_envelope_error(resp, 504, "took too long", code="database_timeout")


def test_app_connections_carry_the_configured_timeouts(database_url, redis_url):
    from conftest import build_app
    from sqlalchemy import text

    custom = build_app(
        database_url, redis_url, DB_STATEMENT_TIMEOUT_MS=1234, DB_LOCK_TIMEOUT_MS=567
    )
    default = build_app(database_url, redis_url)
    for app, expected in ((custom, ("1234ms", "567ms")), (default, ("10s", "5s"))):
        with app.app_context():
            got = db.session.execute(
                text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
            ).one()
            assert tuple(got) == expected
            db.engine.dispose()
