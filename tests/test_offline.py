"""No network at run time: the guard used for notebook runs really blocks, and loopback stays open."""

import os
import subprocess
import sys

from helpers import paths

GUARD = paths.PROJ_ROOT / "tests" / "offline"


def _python(code):
    env = {**os.environ, "PYTHONPATH": str(GUARD)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_outside_connection_is_blocked():
    out = _python("import socket; s = socket.socket(); s.settimeout(2); s.connect(('93.184.216.34', 80))")
    assert out.returncode != 0 and "network access blocked" in out.stderr


def test_loopback_is_allowed():
    code = (
        "import socket; srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1);"
        "c = socket.socket(); c.connect(srv.getsockname()); print('ok')"
    )
    out = _python(code)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_makefile_runs_notebooks_offline():
    makefile = (paths.PROJ_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "PYTHONPATH=tests/offline" in makefile
