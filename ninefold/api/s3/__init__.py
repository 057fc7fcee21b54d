"""ninefold.api.s3."""
