"""HTTP routers; each translates requests into service calls and nothing more."""
