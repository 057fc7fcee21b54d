"""ninefold.node."""
