"""Declarative base, mixins and the engine/session factory."""
