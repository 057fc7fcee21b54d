"""FragmentStore over HTTP to storage nodes, and the node health probe.

Owns the client end of the node wire protocol: RemoteFragmentStore (one drive of one node as a
FragmentStore, streaming, with stall timeouts) and ``probe_node``. What goes on the wire is
``fragments.wire``'s; this package only sends it with aiohttp. It may import ``fragments``,
``placement``, ``erasure``, ``iam`` and ``core``, never ``meta`` (beside it), the coordinator,
or ``node`` (the server end).
"""

from ninefold.nodeclient.health import NodeStatus, probe_node
from ninefold.nodeclient.store import RemoteFragmentStore

__all__ = ["NodeStatus", "RemoteFragmentStore", "probe_node"]
