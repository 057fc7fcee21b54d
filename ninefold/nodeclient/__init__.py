"""FragmentStore over HTTP to storage nodes."""

from ninefold.nodeclient.store import RemoteFragmentStore

__all__ = ["RemoteFragmentStore"]
