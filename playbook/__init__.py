"""Shared harness for the background-task playbook; not a service.

Subpackages, one concern each:

- `playbook.app`: the app and its HTTP contract (settings, database, models, schemas,
  the read endpoints, the app factory);
- `playbook.upstream`: the work both variants call (the bound httpx client, site fetch,
  sitemap crawl, e-mail crawl, places client);
- `playbook.harness`: what runs the services in development (uvicorn in-process, the
  compare runner, embedded PostgreSQL, database provisioning, the upstream simulator);
- `playbook.docs_tools`: what builds and checks the docs site;
- `playbook.helpers`: small helpers the others share.

`legacy` and `standardized` import from here and never from each other; only the app
factory imports a variant, by name.
"""
