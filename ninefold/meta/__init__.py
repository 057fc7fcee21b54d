"""ninefold.meta."""
