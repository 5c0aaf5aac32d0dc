"""Managed filespace operations through the `lucid` CLI: init-s3, users, snapshots, schedules.

Reference: docs/lucidlink-contract.md section 3; guarantees in docs/managed-operations.md.

- `models`: the records (`FilespaceInit`, `FilespaceUser`, `SnapshotSchedule`), in the
  provisioning app (provisioning/models.py imports them, as Django needs);
- `services`: the actions and reads, gathered from `rules`, `initialization`, `operations` and
  `connection` (`from provisioning.managed import services as managed`);
- `tasks`: the worker's init and its reconciler (provisioning/tasks.py imports them, so a
  worker's autodiscovery registers them under their original names);
- `admin`: read-only admin (provisioning/admin.py imports it).

Nothing is imported here: provisioning/models.py imports `managed.models` while the app
registry loads, before the services' imports (customers, actions, provisioning.models) can run.
"""
