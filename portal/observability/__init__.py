"""Metrics, structured logs and request/task context (docs/observability.md).

Instrumentation lives at seams only: the LucidLink client's request method, Celery's signals,
one middleware, receivers on append-only event rows, and collectors that read the database when
Prometheus scrapes. Services never call into this package.
"""
