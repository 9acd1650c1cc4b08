"""Projects-and-tasks API: users, projects and tasks over SQLModel with async sessions."""
