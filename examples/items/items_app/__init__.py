"""The items service: a 3-layer FastAPI application (routers, services, repositories)."""
