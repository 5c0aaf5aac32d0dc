"""Actions: the one way each state change happens (docs/architecture.md, "Actions").

from portal.actions import Code, Principal, Refused, action, record
from portal.actions.outbox import outbox_add     # models: import inside the action module
from portal.actions import guards   # require_msp, require_role, require_active_customer
"""

from portal.actions.errors import Code, Refused
from portal.actions.principal import Principal, Side
from portal.actions.recording import record
from portal.actions.registry import ACTIONS, action

__all__ = ["ACTIONS", "Code", "Principal", "Refused", "Side", "action", "record"]
