"""Shared harness for the background-task playbook.

Not a service: settings, database, models, schemas, the app factory, the upstream
simulator, the compare runner and the CLI. `legacy` and `standardized` import from here
and never from each other.
"""
