"""A pause of every call to the Service API, shared by all workers through the cache.

When LucidLink answers 429 or 503 with `Retry-After` (or stops answering), one sweep learns it
first; writing the end of the pause to the shared cache lets every other sweep on every worker
wait for the same moment instead of each calling, failing and backing off on its own. The cache
only saves calls: when it is down, each sweep relies on its own answer, as before.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger("provisioning.services")
KEY = "lucidlink:api-paused-until"


def api_pause(seconds: float) -> None:
    """Pause every sweep's calls for `seconds` from now (a longer pause already set wins)."""
    if seconds <= 0:
        return
    until = time.time() + seconds
    try:
        current = cache.get(KEY)
        if isinstance(current, int | float) and current >= until:
            return
        cache.set(KEY, until, timeout=int(seconds) + 5)
    except Exception:
        logger.warning("Could not share the LucidLink pause through the cache.")


def api_paused_for() -> float:
    """Seconds left of the shared pause; 0 when calls may go out now."""
    try:
        until = cache.get(KEY)
    except Exception:
        return 0.0
    if not isinstance(until, int | float):
        return 0.0
    return max(0.0, until - time.time())


def api_pause_clear() -> None:
    try:
        cache.delete(KEY)
    except Exception:
        logger.warning("Could not clear the shared LucidLink pause.")
