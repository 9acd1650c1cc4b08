"""Work the routers hand off: ORM helpers, the audit trail, and a few Core statements."""
