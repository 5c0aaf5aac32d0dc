"""Every URL pattern of the project, with its converters, from the resolver itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter


@dataclass(frozen=True)
class Route:
    name: str
    # The route with each parameter as "{name}", and each parameter's converter.
    template: str
    params: tuple[tuple[str, object], ...]
    # The dotted module of the view, to find the parameters and fields it reads.
    module: str = ""

    def build(self, values: dict[str, str]) -> str:
        path = self.template
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        return path

    def param_is_int(self, key: str) -> bool:
        return isinstance(dict(self.params)[key], IntConverter)


def _pattern_text(pattern) -> tuple[str, dict]:
    """The route's text with parameters as {name}, and its converters (regex routes too)."""
    if hasattr(pattern, "_route"):
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern._route))
        return text, dict(pattern.converters)
    regex = pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
    names = pattern.regex.groupindex
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex)
    text = text.replace("\\", "").replace("/?", "/")
    return text, dict.fromkeys(names, None)


def _walk(patterns, prefix: str = "", namespace: str | None = None, params=()):
    for pattern in patterns:
        text, converters = _pattern_text(pattern.pattern)
        here = params + tuple(converters.items())
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            ns = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
            yield from _walk(pattern.url_patterns, prefix + text, ns, here)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else (pattern.name or "")
            callback = pattern.callback
            view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            module = (view or callback).__module__
            yield Route(name, "/" + prefix + text, here, module)


def all_routes() -> list[Route]:
    routes = {route.template: route for route in _walk(get_resolver().url_patterns)}
    # Regex routes that only match static files or optional format suffixes add nothing.
    return sorted(
        (r for r in routes.values() if "(" not in r.template and "[" not in r.template),
        key=lambda r: r.template,
    )
