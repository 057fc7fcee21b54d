"""ninefold.obs."""
