"""Ninefold: a distributed, erasure-coded, S3-compatible object store."""

__version__ = "0.1.0"
__all__ = ["__version__"]
