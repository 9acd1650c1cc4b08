"""Fakes: mail, S3, outbound HTTP, overrides, query counting, factories."""
