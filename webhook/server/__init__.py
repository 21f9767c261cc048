"""The HTTP shell around the core: TLS, the admission endpoints, metrics and logs."""
