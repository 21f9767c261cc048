"""``downward-webhook audit``: find the pods the webhook never (fully) injected, and restart
their workloads. The decision is the core's (``webhook.core.audit``); this package lists the
pods, follows their owners and patches workloads."""
