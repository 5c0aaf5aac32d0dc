"""The 14 Service API operations, relative to ``/api/v1`` (or ``/v1``)."""

from __future__ import annotations

from lucidsim import errors
from lucidsim.errors import ApiError
from lucidsim.http import BadJson, Request, Response, json_response, route
from lucidsim.state import Simulator


def _body(request: Request, message: str) -> object:
    try:
        body = request.json()
    except BadJson as exc:
        raise ApiError(400, message, str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, message, "the body must be a JSON object")
    return body


def create_domain(sim: Simulator, client: str, request: Request) -> Response:
    body = _body(request, errors.INVALID_DOMAIN_NAME)
    return json_response(201, sim.create_domain(client, body))


def get_domains(sim: Simulator, client: str, request: Request) -> Response:
    return json_response(200, sim.list_domains(client))


def get_domain(sim: Simulator, client: str, request: Request, id: str) -> Response:
    return json_response(200, sim.get_domain(client, id))


def update_domain(sim: Simulator, client: str, request: Request, id: str) -> Response:
    sim.get_domain(client, id)  # 400 and 404 come before body problems.
    body = _body(request, errors.INVALID_DOMAIN_NAME)
    return json_response(200, sim.update_domain(client, id, body))


def delete_domain(sim: Simulator, client: str, request: Request, id: str) -> Response:
    sim.delete_domain(client, id)
    return Response(204)


def create_filespace(sim: Simulator, client: str, request: Request) -> Response:
    body = _body(request, errors.INVALID_FILESPACE)
    return json_response(201, sim.answer(sim.create_filespace(client, body)))


def get_filespaces(sim: Simulator, client: str, request: Request) -> Response:
    found = sim.list_filespaces(client, request.param("qualifiedName"))
    return json_response(200, [sim.answer(view) for view in found])


def get_filespace(sim: Simulator, client: str, request: Request, id: str) -> Response:
    return json_response(200, sim.answer(sim.get_filespace(client, id)))


def delete_filespace(sim: Simulator, client: str, request: Request, id: str) -> Response:
    sim.delete_filespace(client, id)
    return Response(204)


def get_payment(sim: Simulator, client: str, request: Request) -> Response:
    return json_response(200, sim.payment(client))


def set_payment(sim: Simulator, client: str, request: Request) -> Response:
    body = _body(request, errors.INVALID_BILLING)
    return json_response(200, sim.set_payment(client, body))


def current_period(sim: Simulator, client: str, request: Request) -> Response:
    return json_response(200, sim.current_period(client))


def invoices(sim: Simulator, client: str, request: Request) -> Response:
    return json_response(200, sim.invoices(client))


def invoice_csv(sim: Simulator, client: str, request: Request, id: str) -> Response:
    text = sim.invoice_csv(client, id)
    return Response(200, text.encode(), "text/csv; charset=utf-8")


ROUTES = [
    route("POST", "/domains", "createDomain", create_domain),
    route("GET", "/domains", "getDomains", get_domains),
    route("GET", "/domains/{id}", "getDomain", get_domain),
    route("PUT", "/domains/{id}", "updateDomain", update_domain),
    route("DELETE", "/domains/{id}", "deleteDomain", delete_domain),
    route("POST", "/filespaces", "createFilespace", create_filespace),
    route("GET", "/filespaces", "getFilespaces", get_filespaces),
    route("GET", "/filespaces/{id}", "getFilespace", get_filespace),
    route("DELETE", "/filespaces/{id}", "deleteFilespace", delete_filespace),
    route("GET", "/billing/payment", "getPaymentDetails", get_payment),
    route("PATCH", "/billing/payment", "setPaymentDetails", set_payment),
    route("GET", "/billing/current-period", "getCurrentPeriod", current_period),
    route("GET", "/billing/invoices", "getInvoices", invoices),
    route(
        "GET",
        "/billing/invoices/{id}/breakdown/csv",
        "getInvoiceBreakdownPerFilespace",
        invoice_csv,
    ),
]


def filespace_name_for(
    sim: Simulator, operation: str, request: Request, params: dict
) -> str | None:
    """The filespace a call is about, for the ledger (None when it names none)."""
    if operation == "createFilespace":
        try:
            body = request.json()
        except BadJson:
            return None
        name = body.get("name") if isinstance(body, dict) else None
        return name if isinstance(name, str) else None
    if operation in ("getFilespace", "deleteFilespace"):
        fs = sim.filespaces.get(params.get("id", ""))
        return fs["name"] if fs else None
    if operation == "getFilespaces":
        qualified = request.param("qualifiedName")
        return qualified.partition(".")[0] if qualified else None
    return None
