"""Housekeeping for the API."""

from celery import shared_task

from portal.api import services


@shared_task(acks_late=True)
def prune_idempotent_responses() -> int:
    """Daily: drop stored first answers past their retention (idempotent, safe to repeat)."""
    return services.idempotent_responses_prune()
