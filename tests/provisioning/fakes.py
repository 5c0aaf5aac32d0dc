"""A fake of OUR LucidLink client seam for unit tests (integration tests use lucidsim)."""

import itertools
from collections import Counter

from provisioning import lucidlink

DOMAIN = lucidlink.Domain(id="dom-1", name="msp")


class FakeClient:
    """Keeps filespaces in a dict; `fail(op, exc, times)` makes the next calls raise."""

    def __init__(self, domain: lucidlink.Domain = DOMAIN) -> None:
        self.domain = domain
        self.filespaces: dict[str, lucidlink.RemoteFilespace] = {}
        self.calls: Counter[str] = Counter()
        self.failures: dict[str, list[Exception]] = {}
        self.create_status = "provisioning"
        self._ids = itertools.count(1)

    # Test controls.
    def fail(self, operation: str, exc: Exception, times: int = 1) -> None:
        self.failures.setdefault(operation, []).extend([exc] * times)

    def add(
        self,
        name: str,
        *,
        status: str = "provisioning",
        provider: str = "IBM",
        region: str = "us-east",
        domain_id: str | None = None,
        bucket: str | None = None,
    ) -> lucidlink.RemoteFilespace:
        remote = lucidlink.RemoteFilespace(
            id=f"fs-{next(self._ids)}",
            domain_id=domain_id or self.domain.id,
            name=name,
            status=status,
            subscription_type="teams",
            version=3,
            users_count=0,
            storage=lucidlink.FilespaceStorage(
                owner="lucidlink", provider=provider, region=region, endpoint=None, bucket=bucket
            ),
            stats=None,
        )
        self.filespaces[remote.id] = remote
        return remote

    def set_status(self, remote_id: str, status: str) -> None:
        remote = self.filespaces[remote_id]
        self.filespaces[remote_id] = lucidlink.RemoteFilespace(
            **{**remote.__dict__, "status": status}
        )

    def _call(self, operation: str) -> None:
        self.calls[operation] += 1
        pending = self.failures.get(operation)
        if pending:
            raise pending.pop(0)

    # The client interface used by provisioning.services.
    def list_domains(self) -> list[lucidlink.Domain]:
        self._call("list_domains")
        return [self.domain]

    def find_filespace(self, qualified_name: str) -> lucidlink.RemoteFilespace | None:
        self._call("find_filespace")
        name, _, domain_name = qualified_name.partition(".")
        if domain_name != self.domain.name:
            return None
        for remote in self.filespaces.values():
            if remote.name == name and remote.domain_id == self.domain.id:
                return remote
        return None

    def create_filespace(
        self, *, domain_id, name, subscription_type, owner, provider, region, bucket=None, **_
    ) -> lucidlink.RemoteFilespace:
        self._call("create_filespace")
        if any(r.name == name and r.domain_id == domain_id for r in self.filespaces.values()):
            raise lucidlink.Conflict("Filespace name already exists.", status=409)
        return self.add(
            name,
            status=self.create_status,
            provider=provider,
            region=region,
            bucket=bucket,
        )

    def list_filespaces(self) -> list[lucidlink.RemoteFilespace]:
        self._call("list_filespaces")
        return list(self.filespaces.values())

    def get_filespace(self, remote_id: str) -> lucidlink.RemoteFilespace:
        self._call("get_filespace")
        if remote_id not in self.filespaces:
            raise lucidlink.NotFound("Filespace not found.", status=404)
        return self.filespaces[remote_id]

    def delete_filespace(self, remote_id: str) -> None:
        self._call("delete_filespace")
        remote = self.filespaces.get(remote_id)
        if remote is None:
            raise lucidlink.NotFound("Filespace not found.", status=404)
        if remote.status == "provisioning":
            raise lucidlink.Conflict(
                "Cannot delete filespace while in status `provisioning`.", status=409
            )
        del self.filespaces[remote_id]
