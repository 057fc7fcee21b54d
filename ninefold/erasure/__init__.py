"""Erasure coding: redundancy schemes and the pyeclib codec adapter.

Owns the scheme names and their quorums (``ec:K+M``, ``rep:N``), and the codec that turns a
stripe into k+m fragment blocks and back (encode, decode, reconstruct) with its stripe math.
Pure computation, no I/O: it may import only ``ninefold.core``, never fragments, placement or
anything above them.
"""

from ninefold.erasure.codec import ECCodec
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme

__all__ = ["EC_6_3", "REP_4", "ECCodec", "Scheme"]
