"""Business rules; each public method is one unit of work and commits it."""
