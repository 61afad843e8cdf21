"""What builds and checks the docs site: traceback capture, symbol and audit excerpts,
performance stubs, and the headless-browser check of the built site."""
