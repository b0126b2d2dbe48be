"""The application: CLI, configuration, server, channels, storage, logging."""
