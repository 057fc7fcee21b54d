"""Erasure coding: redundancy schemes and the pyeclib codec adapter."""

from ninefold.erasure.codec import ECCodec
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme

__all__ = ["EC_6_3", "REP_4", "ECCodec", "Scheme"]
