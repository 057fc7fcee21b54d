"""FragmentStore over HTTP to storage nodes, and the node health probe."""

from ninefold.nodeclient.health import NodeStatus, probe_node
from ninefold.nodeclient.store import RemoteFragmentStore

__all__ = ["NodeStatus", "RemoteFragmentStore", "probe_node"]
