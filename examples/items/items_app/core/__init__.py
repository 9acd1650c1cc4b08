"""Cross-cutting concerns: settings, errors, middleware, password hashing."""
