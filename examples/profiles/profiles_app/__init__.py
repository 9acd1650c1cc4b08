"""Profiles: the smallest FastAPI + async SQLAlchemy + Alembic service."""
