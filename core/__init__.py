"""What every app of the platform shares: service errors, roles and permissions, the job state machine,
the management-command base and the API's edges (one exception handler, request limits, throttles, the
OpenAPI schema). It imports no other app of the project; every app may import it (docs/architecture.md)."""
