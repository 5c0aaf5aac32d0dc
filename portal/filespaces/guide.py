"""The filespace page's connection guide: initialize, your user, install, link, mount, cache.

The portal knows whether the first two steps are done (the filespace is active; the person has
their own filespace user), so the guide starts at the first one that is not. The last four
happen on the person's computer, where the portal cannot look: the person moves through them
with Next and Back links (`?step=`), one step shown at a time.
"""

from dataclasses import dataclass

INITIALIZE, USER, INSTALL = "initialize", "user", "install"
LINK, MOUNT, CACHE = "link", "mount", "cache"
TITLES = {
    INITIALIZE: "Initialize the filespace",
    USER: "Your filespace user",
    INSTALL: "Install the LucidLink client",
    LINK: "Link this computer",
    MOUNT: "Mount the filespace",
    CACHE: "Turn on the local cache",
}
ORDER = (INITIALIZE, USER, INSTALL, LINK, MOUNT, CACHE)
ON_THE_COMPUTER = (INSTALL, LINK, MOUNT, CACHE)
DONE, CURRENT, NEXT = "done", "current", "next"


@dataclass(frozen=True)
class GuideStep:
    key: str
    title: str
    status: str
    number: int


@dataclass(frozen=True)
class Guide:
    steps: tuple[GuideStep, ...]
    current: str
    # The page polls while something outside the person's hands is under way.
    waiting: bool

    @property
    def current_step(self) -> GuideStep:
        return next(step for step in self.steps if step.key == self.current)

    @property
    def previous(self) -> str:
        index = ORDER.index(self.current)
        return ORDER[index - 1] if self.current in ON_THE_COMPUTER[1:] else ""

    @property
    def next(self) -> str:
        index = ORDER.index(self.current)
        return ORDER[index + 1] if self.current in ON_THE_COMPUTER[:-1] else ""


def guide_for(filespace, *, init, own_user, requested: str = "") -> Guide | None:
    """The guide for one person, or None while the filespace is not ready for one."""
    if filespace.state not in ("provisioned", "active"):
        return None
    initialized = filespace.state == "active"
    # Without the root password the portal cannot create users: the customer holds root.
    user_done = own_user is not None or (initialized and not filespace.root_password)
    if not initialized:
        current = INITIALIZE
    elif not user_done:
        current = USER
    elif requested in ON_THE_COMPUTER:
        current = requested
    else:
        current = INSTALL
    waiting = (
        not initialized
        and init is not None
        and init.state
        in (
            "requested",
            "running",
            "by_customer",
        )
    )
    position = ORDER.index(current)
    steps = tuple(
        GuideStep(
            key,
            TITLES[key],
            DONE if index < position else CURRENT if index == position else NEXT,
            index + 1,
        )
        for index, key in enumerate(ORDER)
    )
    return Guide(steps=steps, current=current, waiting=waiting)
