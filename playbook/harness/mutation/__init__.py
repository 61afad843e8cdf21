"""`make mutate`: the spec's mutation check.

Each mutation in `catalog.MUTATIONS` re-introduces one catalogued failure (F1..F11) or
breaks one rule (R1..R10) with a source edit, in a copy of the tree, and names the tests
that must notice. `run` applies them one at a time and reports which were killed (a named
test failed) and which survived (every named test still passed).
Does not guarantee: that the spec catches every way of breaking a rule; only that it
catches these. A mutation the code has outgrown (its anchor no longer matches) is an
error, never skipped.
"""
