"""ninefold.workers."""
