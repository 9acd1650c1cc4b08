"""fastapi-testbed."""
