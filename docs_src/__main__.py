"""`python -m docs_src [name ...]`: run the docs examples on a database of their own and print
what each observed. A name selects every example whose module name contains it."""

import argparse
import asyncio
import importlib
import pprint

from docs_src import example_names
from playbook.app.settings import get_settings
from playbook.harness.databases import prepare_database


async def run(names: list[str]) -> None:
    settings = get_settings()
    url = await prepare_database(settings, f"{settings.database_name}_docs_src", replace=True)
    for name in names:
        print(f"== {name}")
        pprint.pprint(await importlib.import_module(name).observe(url), sort_dicts=False)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m docs_src", description=__doc__)
    parser.add_argument("names", nargs="*", help="examples to run (default: all)")
    wanted = parser.parse_args().names
    names = [name for name in example_names() if not wanted or any(w in name for w in wanted)]
    asyncio.run(run(names))


if __name__ == "__main__":
    main()
