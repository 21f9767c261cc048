"""Fakes for tests: stand-ins for external systems, clearly not the real thing."""
