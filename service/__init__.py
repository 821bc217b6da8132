"""Service layer: CLI, configuration, Flask app, refresh job."""
