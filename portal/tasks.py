from celery import shared_task
from django.utils import timezone

from portal.models import WorkerHeartbeat


@shared_task(bind=True, ignore_result=True)
def record_worker_heartbeat(self) -> None:
    """Stamp this worker's row; idempotent, so a redelivery only moves the time forward."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=self.request.hostname or "unknown", defaults={"last_seen": timezone.now()}
    )
