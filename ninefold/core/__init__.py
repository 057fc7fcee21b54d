"""ninefold.core."""
