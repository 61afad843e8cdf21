"""The services as they were before the work order, failing the catalogued ways.

Same modules and HTTP contract as `standardized`; `diff -ru legacy standardized` is the migration.
Do not copy from here.
"""
