"""Notes App: users register, log in with JWTs and keep private notes."""
