"""downward-webhook."""
