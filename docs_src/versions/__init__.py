"""Examples that `make matrix` also runs on other FastAPI and SQLAlchemy releases: each
imports only those libraries, uvicorn and httpx, never the project, so it runs unchanged
in a throwaway environment."""
