"""The coordinator: one object operation across metadata, placement, codec and fragment stores.

Owns objects and multipart uploads (put, get, delete, listing), the chunk pipeline (``chunks``:
stripes to fragments and back, quorums, hedged degraded reads), rebuilding fragments
(``repair``), and the ClusterView of the stores it uses (``cluster``). It may import ``meta``,
``nodeclient``, ``placement``, ``erasure``, ``fragments``, ``iam`` and ``core``; never ``api``,
``workers``, ``node`` or ``cli``, which call it. It writes through FragmentStores and never
knows whether one is a drive, a node or memory.
"""
