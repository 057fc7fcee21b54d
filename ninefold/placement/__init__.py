"""ninefold.placement."""
