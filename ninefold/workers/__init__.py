"""Background services, each a ``Worker`` with a bounded ``run_once()`` (``base``: the runner,
leader election, throttling).

Owns health monitoring, garbage collection, repair, scrubbing, orphan collection and
rebalancing (later lifecycle and replication). Workers may import ``domain``, ``coordinator``,
``meta``, ``nodeclient`` and the pure floors; never ``api``, ``node`` or ``cli``. The
composition root (``cli/compose.py``) builds them, the same set for every mode.
"""
