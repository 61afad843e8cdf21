"""The failure catalog's examples: each module's `observe(database_url)` makes one catalog
failure happen and returns what SQLAlchemy raised, as plain data the tests compare exactly."""
