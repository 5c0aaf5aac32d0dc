"""Reading Prometheus's text format in tests."""

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, frozenset of label pairs): value} for an exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def local(name: str, **labels: str) -> float:
    """A sample of this (single-process) test run's own registry, 0 when not yet recorded."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
