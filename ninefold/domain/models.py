"""The value types front doors see, re-exported from where they are stored.

Front ends (``api``, ``cli``) never import ``ninefold.meta``; the records the domain services
hand them (an object version, an upload, a listing page, the cluster map) are these. They are
frozen values: changing one goes through a service.
"""

from __future__ import annotations

from ninefold.meta.listing import prefix_successor
from ninefold.meta.models import (
    NULL_VERSION,
    ClusterMap,
    DeleteOutcome,
    ListPage,
    NodeRecord,
    ObjectVersion,
    Part,
    Upload,
    VersionPage,
    WriteCondition,
)

__all__ = [
    "NULL_VERSION",
    "ClusterMap",
    "DeleteOutcome",
    "ListPage",
    "NodeRecord",
    "ObjectVersion",
    "Part",
    "Upload",
    "VersionPage",
    "WriteCondition",
    "prefix_successor",
]
