"""Moved to ``ninefold.cli.compose`` (the composition root); kept only for ``cli/iam.py``,
whose rewrite imports from ``compose``. Delete once that lands."""

from ninefold.cli.compose import apply_map, follow_map, open_meta, stores_from_map

__all__ = ["apply_map", "follow_map", "open_meta", "stores_from_map"]
