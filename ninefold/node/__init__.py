"""The storage-node daemon and its disk store.

Owns the HTTP service that exposes a node's drives to the cluster (``app``, speaking
``fragments.wire``) and the FragmentStore of a local drive directory (``disk``; the embedded
server wires it in too). It sits with ``api`` and ``workers`` just below ``cli``: it may import
the coordinator and everything under it, and nothing but ``cli`` (and tests) may import it.
"""
