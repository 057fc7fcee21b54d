"""Test support: real server processes and the TLS material they serve with.

Nothing here mocks a component: :func:`start_server` runs the real ``ninefold server`` command
in its own process group, and :func:`make_tls_files` makes a real CA and a certificate signed by
it.
"""

from tests.support.certs import TlsFiles, make_tls_files
from tests.support.server import ServerProc, ServerStartError, start_server

__all__ = ["ServerProc", "ServerStartError", "TlsFiles", "make_tls_files", "start_server"]
