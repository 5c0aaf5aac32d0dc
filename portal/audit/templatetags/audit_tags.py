from django import template

from portal.audit.presenters import Told, tell

register = template.Library()


@register.filter
def told(entry, for_staff: bool = False) -> Told:
    """`{% with told=entry|told:show_customer %}`: the entry in words (portal.audit.presenters)."""
    return tell(entry, for_staff=bool(for_staff))
