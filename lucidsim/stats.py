"""Deterministic usage model: filespace stats as a pure function of seed, name and age.

Every quantity is a sum or product of non-decreasing, non-negative terms of the age, so each
field can only grow, and ``usedStorage`` (data plus snapshot overhead) is never below
``filespaceSize``. The parameters come from a hash of the seed and the qualified name, so a
restarted simulator, or a second one with the same seed, reports the same numbers.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

STAT_FIELDS = (
    "usedStorage",
    "filespaceSize",
    "getRequestCount",
    "getDataSize",
    "putRequestCount",
    "putDataSize",
    "listRequestCount",
    "deleteRequestCount",
)
DAY_MS = 86_400_000
GB = 10**9
TB = 10**12
MIB = 2**20


@dataclass(frozen=True)
class Profile:
    final_bytes: float  # The size the data set levels off at.
    ramp_days: float  # How fast it gets there.
    linear_per_day: float  # Slow steady growth after the ramp.
    snapshot_ratio: float  # Extra bucket bytes held by snapshots, as a share of the data.
    write_amplification: float
    churn_per_day: float  # Bytes rewritten per day on top of new data.
    put_object_bytes: float
    read_ratio_per_day: float  # Share of the data set read back each day.
    get_object_bytes: float
    lists_per_day: float
    delete_ratio: float


@lru_cache(maxsize=4096)
def profile_for(seed: int, qualified_name: str) -> Profile:
    digest = hashlib.sha256(f"{seed}:{qualified_name}".encode()).digest()
    u = [int.from_bytes(digest[i : i + 2], "big") / 65535 for i in range(0, 24, 2)]
    low, high = math.log10(200 * GB), math.log10(8 * TB)
    final = 10 ** (low + u[0] * (high - low))
    return Profile(
        final_bytes=final,
        ramp_days=7 + u[1] * 53,
        linear_per_day=final * (0.002 + u[2] * 0.008),
        snapshot_ratio=0.05 + u[3] * 0.25,
        write_amplification=1.1 + u[4] * 0.9,
        churn_per_day=final * (0.001 + u[5] * 0.01),
        put_object_bytes=MIB * (0.5 + u[6] * 3.5),
        read_ratio_per_day=0.02 + u[7] * 0.2,
        get_object_bytes=MIB * (0.25 + u[8] * 0.75),
        lists_per_day=200 + u[9] * 5000,
        delete_ratio=0.01 + u[10] * 0.05,
    )


def model_stats(profile: Profile, age_ms: int) -> dict[str, int]:
    """Return the modelled stats ``age_ms`` after the filespace was provisioned."""
    days = max(age_ms, 0) / DAY_MS
    p = profile
    ramp = 1 - math.exp(-days / p.ramp_days)
    size = p.final_bytes * ramp + p.linear_per_day * days
    used = size * (1 + p.snapshot_ratio * (1 - math.exp(-days / 14)))
    put_bytes = size * p.write_amplification + p.churn_per_day * days
    # Integral of the data size over the age: what has been available to read so far.
    byte_days = p.final_bytes * (days - p.ramp_days * ramp) + p.linear_per_day * days * days / 2
    get_bytes = p.read_ratio_per_day * byte_days
    put_count = int(put_bytes // p.put_object_bytes)
    return {
        "usedStorage": int(used),
        "filespaceSize": int(size),
        "getRequestCount": int(get_bytes // p.get_object_bytes),
        "getDataSize": int(get_bytes),
        "putRequestCount": put_count,
        "putDataSize": int(put_bytes),
        "listRequestCount": int(days * p.lists_per_day),
        "deleteRequestCount": int(put_count * p.delete_ratio),
    }


def apply_offsets(model: dict[str, int], offsets: dict[str, int]) -> dict[str, int]:
    """Shift modelled values by the offsets a control call recorded, keeping the invariants."""
    stats = {name: max(0, model[name] + int(offsets.get(name, 0))) for name in STAT_FIELDS}
    stats["usedStorage"] = max(stats["usedStorage"], stats["filespaceSize"])
    return stats


def zero_stats() -> dict[str, int]:
    return dict.fromkeys(STAT_FIELDS, 0)
