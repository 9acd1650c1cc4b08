"""Pytest plugin for the fakes (placeholder until issue 3 lands)."""
