"""ninefold.fragments."""
