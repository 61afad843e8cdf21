"""The app both variants serve and its HTTP contract: settings, database, models, schemas,
the read endpoints and the app factory."""
