"""Heroes: the FastAPI docs' heroes-and-teams tutorial as a sync SQLModel service."""
