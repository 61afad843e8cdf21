"""The audit: static discovery of background-task anti-patterns in any codebase.

It reads Python files with the standard `ast` module (nothing is imported or run), lists
the background entry points it finds, walks what they call, and reports what breaks the
standard pattern's rules R1..R10. `python -m playbook audit PATH...` is its command line;
`audit_paths` is the same from Python.
"""

from background_task_audit.runner import audit_paths

__all__ = ["audit_paths"]
