"""Business logic that is more than a query: auth, catalog writes, orders, caching."""
