"""The services rewritten to the standard pattern (rules R1..R10 in the docs).

Same modules and HTTP contract as `legacy`; `diff -ru legacy standardized` is the migration.
"""
