"""The embedded server's list of processes using it: killed ones must not keep it running."""

import json
import os
import subprocess
import sys
from pathlib import Path

from playbook.harness.embedded import HANDLES_FILE, forget_exited_processes


def test_processes_that_exited_are_forgotten(tmp_path: Path) -> None:
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    exited_pid = int(exited.stdout)
    (tmp_path / HANDLES_FILE).write_text(json.dumps([exited_pid, os.getpid()]))

    forget_exited_processes(tmp_path)

    assert json.loads((tmp_path / HANDLES_FILE).read_text()) == [os.getpid()]


def test_no_list_yet_is_left_alone(tmp_path: Path) -> None:
    forget_exited_processes(tmp_path)

    assert not (tmp_path / HANDLES_FILE).exists()
