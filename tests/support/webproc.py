"""``python -m tests.support.webproc``: one web process on the schema the tests created.

``switchboard web`` would run the migrations first; the test database is built by
``create_all`` instead, so the tests start the server directly. With ``TEST_ROUTING_TIMERS=1``
the process also runs the routing timers in a thread, as ``switchboard worker`` does; with
``TEST_WEB_PROCESSES=N`` it is N web processes on one port, as ``switchboard web --processes N``.
"""

from __future__ import annotations

import os
import threading

from desk.settings import Settings
from realtime.server import serve, serve_processes
from routing import timers

if __name__ == "__main__":
    settings = Settings.from_env(os.environ)
    if os.environ.get("TEST_ROUTING_TIMERS") == "1":
        threading.Thread(target=timers.run, args=(settings,), kwargs={"interval_s": 0.2},
                         daemon=True, name="routing-timers").start()
    processes = int(os.environ.get("TEST_WEB_PROCESSES", "1"))
    if processes > 1:
        serve_processes(settings, processes)
    else:
        serve(settings)
