"""The coordinator: the chunk pipeline under every object operation.

Owns writing and reading chunks (``chunks``: stripes to fragments and back, quorums, hedged
degraded reads), streaming a body into chunks (``writer``), rebuilding fragments (``repair``),
the ClusterView of the stores it uses (``cluster``) and its settings. Object and multipart
operations, which decide *what* to write, are ``ninefold.domain``'s. It may import ``meta``,
``nodeclient``, ``placement``, ``erasure``, ``fragments``, ``iam`` and ``core``; never
``domain``, ``api``, ``workers``, ``node`` or ``cli``, which call it. It writes through
FragmentStores and never knows whether one is a drive, a node or memory.
"""
