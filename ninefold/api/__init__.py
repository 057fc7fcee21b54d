"""ninefold.api."""
