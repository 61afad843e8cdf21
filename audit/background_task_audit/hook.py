#!/usr/bin/env python3
"""The pre-commit hook's script (`.pre-commit-hooks.yaml`, `language: script`).

pre-commit runs it from its own checkout of this repository, in the user's repository,
with whatever Python is on PATH: nothing is installed, since the audit needs only the
standard library.
"""

import sys
from pathlib import Path

# The checkout's root, so that `background_task_audit` imports without installing anything.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from background_task_audit.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
