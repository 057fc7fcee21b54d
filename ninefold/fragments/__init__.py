"""Fragments: the one storage interface and what travels through it.

Owns the FragmentStore protocol and fragment ids (``protocol``), the checksummed block format
(``format``), chunk records (``records``), the node wire protocol both ends speak (``wire``)
and its request signing (``signing``), and an in-memory store for tests (``memory``).
May import only ``ninefold.core``: it sits with placement, erasure and iam on the lowest storage
layer, so it never sees the coordinator, metadata, a node client or the disk store of ``node``.
"""
