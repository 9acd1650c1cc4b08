"""Business logic, one service per resource; routers only translate HTTP to these calls."""
