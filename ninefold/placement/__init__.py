"""Placement: which stores hold the fragments of a chunk.

Owns the store descriptions placement sees (StoreInfo: id, zone, weight), rendezvous placement
and replacement choice, and the durability model (probability of loss in a year). Pure
functions of their inputs, no I/O and no clock: it may import only ``ninefold.core``, never the
stores themselves, metadata or the coordinator.
"""
