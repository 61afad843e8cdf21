"""The pitfalls page's examples: each module's `observe(database_url)` runs a pitfall and its
fix and returns what happened, as plain data the tests compare exactly.

Run them by hand with `python -m docs_src.pitfalls [name ...]`.
"""
