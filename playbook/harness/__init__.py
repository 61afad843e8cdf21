"""What runs the services in development and tests: the app under real uvicorn, the
compare runner, the embedded PostgreSQL, database provisioning and the upstream simulator."""
