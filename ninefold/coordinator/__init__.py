"""ninefold.coordinator."""
