"""Property tests that prove they reached their point.

A property such as "whatever the form accepts is valid" says nothing when the strategy never
produces an input the form accepts. `Reach` counts the examples that got to the assertion
that matters (and labels them with `hypothesis.event`, shown by `--hypothesis-show-statistics`);
the test then asserts that a meaningful share of the run got there.

    reach = Reach("valid form")

    @given(...)
    def check(data):
        reach.tried()
        if form.is_valid():
            reach.reached()
            assert ...

    check()
    reach.assert_share(0.4)
"""

from hypothesis import event


class Reach:
    def __init__(self, point: str) -> None:
        self.point = point
        self.examples = 0
        self.hits = 0

    def tried(self) -> None:
        self.examples += 1

    def reached(self) -> None:
        self.hits += 1
        event(self.point)

    def assert_share(self, minimum: float) -> None:
        assert self.examples, "the property never ran"
        share = self.hits / self.examples
        assert share >= minimum, (
            f"only {self.hits} of {self.examples} examples reached '{self.point}' "
            f"(wanted at least {minimum:.0%}): the strategy does not exercise the property"
        )
