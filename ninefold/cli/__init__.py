"""ninefold.cli."""
