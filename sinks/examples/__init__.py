"""Small, readable examples for teams that consume dongbo's topics (docs/downstream.md)."""
