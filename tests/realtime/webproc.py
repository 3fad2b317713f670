"""``python -m tests.realtime.webproc``: one web process on the schema the tests created.

``switchboard web`` would run the migrations first; the test database is built by
``create_all`` instead, so the tests start the server directly.
"""

from __future__ import annotations

import os

from desk.settings import Settings
from realtime.server import serve

if __name__ == "__main__":
    serve(Settings.from_env(os.environ))
