"""Fan-out benchmark of the app's monitoring server against a minimal Node ``ws`` server."""
