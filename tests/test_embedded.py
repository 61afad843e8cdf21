"""The embedded server's list of processes using it: killed ones must not keep it running,
and a server stopped by SIGTERM takes itself off it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from playbook.app.settings import Settings
from playbook.harness.databases import resolve_server_url
from playbook.harness.embedded import HANDLES_FILE, forget_exited_processes
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
