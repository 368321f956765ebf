"""Loopback HTTP servers served from a thread that stops as soon as it is told to."""

from __future__ import annotations

import socketserver
import threading

# ``serve_forever`` looks for a shutdown request only between polls: at its default of 0.5 s
# every fake server's teardown waited up to half a second for it.
SHUTDOWN_POLL = 0.01


def server_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Return a daemon thread (not started) serving ``server`` until ``server.shutdown()``."""
    return threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL}, daemon=True
    )
