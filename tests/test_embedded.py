"""The embedded server's list of processes using it: killed ones must not keep it running,
and a server stopped by SIGTERM takes itself off it."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from playbook.app.settings import Settings
from playbook.harness.databases import resolve_server_url
from playbook.harness.embedded import HANDLES_FILE, forget_exited_processes, stop_embedded_server, throwaway_server
from playbook.helpers import child_env, child_process, free_port, stop_process, wait_until_serving


def test_processes_that_exited_are_forgotten(tmp_path: Path) -> None:
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    exited_pid = int(exited.stdout)
    (tmp_path / HANDLES_FILE).write_text(json.dumps([exited_pid, os.getpid()]))

    forget_exited_processes(tmp_path)

    assert json.loads((tmp_path / HANDLES_FILE).read_text()) == [os.getpid()]


def test_no_list_yet_is_left_alone(tmp_path: Path) -> None:
    forget_exited_processes(tmp_path)

    assert not (tmp_path / HANDLES_FILE).exists()


def test_serve_stopped_by_sigterm_takes_itself_off_the_list(tmp_path: Path) -> None:
    settings = Settings()
    resolve_server_url(settings)  # this process joins the embedded server first, so it stays up
    port, log_path = free_port(), tmp_path / "serve.log"
    command = [sys.executable, "-m", "playbook", "serve", "--port", str(port)]
    with child_process(command, env=child_env(), log_path=log_path) as serve:
        wait_until_serving(serve, f"http://127.0.0.1:{port}/health", log_path=log_path)
        assert serve.pid in json.loads((settings.pgdata / HANDLES_FILE).read_text())
        assert stop_process(serve, timeout=30)

    # Exited through SystemExit (128 + 15), not killed by the signal: its exit handlers ran.
    assert serve.returncode == 143
    assert serve.pid not in json.loads((settings.pgdata / HANDLES_FILE).read_text())


# A process joins the server in the folder given, says so, and waits to be killed.
JOIN_AND_WAIT = """
import sys, time
from pathlib import Path
from playbook.harness.embedded import start_embedded_server
start_embedded_server(Path(sys.argv[1]))
print("joined", flush=True)
time.sleep(120)
"""

# A process starts the server, a child joins it and is killed, and the process exits.
START_AND_OUTLIVE_A_KILLED_CHILD = f"""
import subprocess, sys
from pathlib import Path
from playbook.harness.embedded import start_embedded_server
start_embedded_server(Path(sys.argv[1]))
child = subprocess.Popen([sys.executable, "-c", {JOIN_AND_WAIT!r}, sys.argv[1]], stdout=subprocess.PIPE, text=True)
assert child.stdout is not None and child.stdout.readline() == "joined\\n"
child.kill()
child.wait()
"""


def test_the_last_process_to_exit_stops_the_server_though_a_child_was_killed() -> None:
    # A server of its own, in a folder the server's system user can reach (as root).
    root = Path(tempfile.mkdtemp(prefix="pg-"))
    root.chmod(0o755)
    pgdata = root / "data"
    try:
        started = subprocess.run(
            [sys.executable, "-c", START_AND_OUTLIVE_A_KILLED_CHILD, str(pgdata)],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stderr
        # The killed child never took itself off the list; the exiting parent forgot it.
        assert not stop_embedded_server(pgdata), "the server outlived every process using it"
    finally:
        stop_embedded_server(pgdata)
        shutil.rmtree(root, ignore_errors=True)


def test_a_throwaway_server_down_when_its_block_fails_lets_the_blocks_error_through() -> None:
    with pytest.raises(ValueError, match=r"^mid-outage$"), throwaway_server() as server:
        server.stop(mode="immediate")
        raise ValueError("mid-outage")

    assert not server.pgdata.exists(), "its folder is deleted all the same"
