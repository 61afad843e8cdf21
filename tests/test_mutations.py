"""The mutation list `make mutate` runs, checked against this tree without running it: every
rule and catalog failure has a mutation, every anchor still matches exactly once and leaves
valid Python, and every test a mutation names exists. A change that moves code a mutation
edits fails here, in seconds, instead of as an error of the slow `make mutate`.
"""

import importlib
from collections import Counter

import pytest

from playbook.app.settings import PROJECT_ROOT
from playbook.harness.mutation.catalog import MUTATIONS
from playbook.harness.mutation.model import CATALOG_IDS, RULE_IDS, AnchorError, Edit, Mutation


def test_every_rule_and_catalog_failure_has_a_mutation() -> None:
    covered = {id_ for mutation in MUTATIONS for id_ in mutation.ids}
    assert [id_ for id_ in RULE_IDS + CATALOG_IDS if id_ not in covered] == []


@pytest.mark.parametrize(("text", "found"), [("no anchor here", 0), ("await x(); await x()", 2)])
def test_an_anchor_found_other_than_once_is_an_error(text: str, found: int) -> None:
    with pytest.raises(AnchorError, match=f"^m.py: the anchor occurs {found} times, not once"):
        Edit("m.py", "await x()", "x()").applied_to(text)


def test_mutation_names_are_unique() -> None:
    assert [name for name, count in Counter(m.name for m in MUTATIONS).items() if count > 1] == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_mutation_applies_to_this_tree(mutation: Mutation) -> None:
    for path, text in mutation.edited_files(PROJECT_ROOT).items():
        if path.endswith(".py"):
            compile(text, path, "exec")


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.name)
def test_tests_a_mutation_names_exist(mutation: Mutation) -> None:
    arguments = iter(mutation.tests)
    for argument in arguments:
        if argument in ("-m", "-k"):
            next(arguments)  # the expression
            continue
        path, _, name = argument.partition("::")
        assert (PROJECT_ROOT / path).is_file(), f"{mutation.name}: no test file {path}"
        if name:
            module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
            function = name.partition("[")[0]
            assert hasattr(module, function), f"{mutation.name}: {path} has no {function}"
