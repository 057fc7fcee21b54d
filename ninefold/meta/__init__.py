"""ninefold.meta: the metadata floor.

What it owns: the metadata records (``models``: buckets with their configuration documents,
object versions, uploads, parts, chunks' placement, the cluster map, queues' items), the
``MetaStore`` protocol (``store``), the rules every backend applies (``rules``: versions,
deletes, Object Lock, write conditions, what goes to the GC and repair queues), the backends
(``sqlite``, ``postgres``, ``memory``), their schema and migrations (``schema``, ``rows``),
listing over an ordered key index (``listing``) and the shared Redis cache (``cache``).

What it may use: ``placement``, ``erasure``, ``fragments``, ``iam`` and ``core`` only; never
``api``, ``coordinator``, ``workers``, ``node`` or ``cli`` (the import-linter contract enforces the
layers). It raises only ``DomainError`` subclasses (what was refused, with the facts) and
``StorageError``s (the database is unavailable) from ``ninefold.core.errors``: no S3 error code
and no HTTP status is known here.
"""
