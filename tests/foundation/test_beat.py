from datetime import timedelta

from django.utils import timezone

from portal.beat import ScheduleFileScheduler
from portal.celery import app


def open_scheduler(path) -> ScheduleFileScheduler:
    return ScheduleFileScheduler(app=app, schedule_filename=str(path), lazy=False)


def test_beat_keeps_its_schedule_in_dbm_dumb_files_whatever_the_python(tmp_path):
    scheduler = open_scheduler(tmp_path / "schedule")
    scheduler.sync()
    scheduler.close()
    assert (tmp_path / "schedule.dat").exists()
    assert (tmp_path / "schedule.dir").exists()


def test_a_restarted_beat_remembers_when_each_task_last_ran(tmp_path):
    scheduler = open_scheduler(tmp_path / "schedule")
    ran_at = timezone.now() - timedelta(seconds=30)
    scheduler.schedule["worker-heartbeat-provisioning"].last_run_at = ran_at
    scheduler.sync()
    scheduler.close()

    restarted = open_scheduler(tmp_path / "schedule")
    assert restarted.schedule["worker-heartbeat-provisioning"].last_run_at == ran_at
    assert "poll-filespaces" in restarted.schedule
