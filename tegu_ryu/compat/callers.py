"""Who a ``/tegu/api`` command acts for: the header or ``auth=`` token, and tokens in host names.

Tegu's host names may carry a token and a project, ``[token/][project/]host``.
The rules, which close two holes the first port left open:

* a header token that is empty, or only ``/`` or ``/PROJECT`` (what
  ``tegu_req`` sends without ``-t``), counts as absent;
* every token present, in the header or in a host name, must be valid;
  one that is not refuses the command ("h1 validation failed: ...");
* a host name is authorised by its own token if it has one, else by the
  header's; the project it names must be that token's tenant (an admin
  may name any project);
* a host whose tenant the topology knows must be named under that project,
  admin or not (``bad_project/h1`` is refused when h1 is cloudqos's); a host
  without a tenant may be named under any project the token allows;
* all the tokens of one command must be one tenant's; the command acts for
  that tenant (its reservation is that tenant's).

With ``auth_mode = none`` a command without any token acts for the
anonymous admin, as before.
"""

from __future__ import annotations

from collections.abc import Callable

from tegu_ryu.auth import Authenticator
from tegu_ryu.compat.syntax import Command, SyntaxProblem, key_values, parse_host, split_pair
from tegu_ryu.errors import Unauthorized
from tegu_ryu.tenancy import Principal

HOST_COMMANDS = {"reserve", "ow_reserve", "owreserve"}  # their third positional word: h1,h2
HOST_LIST_COMMANDS = {"listconns", "refresh"}  # every argument is a host name


class CallerRefused(Exception):
    """The tokens of a command do not hold together; the message says which host and why."""


def token_of(text: str | None) -> str | None:
    """The token part of a header or ``auth=`` value (``TOKEN`` or ``TOKEN/PROJECT``)."""
    if text is None:
        return None
    token = text.strip().split("/")[0].strip()
    return token or None


def caller(
    authenticator: Authenticator,
    header: str | None,
    command: Command,
    domains: frozenset[str] = frozenset(),
    tenant_of: Callable[[str], str | None] = lambda host: None,
) -> Principal | None:
    """Who ``command`` acts for; None when no valid token is given (and one is needed).

    ``domains`` are peer domains (WAN stitching): ``DOMAIN/host`` names a host
    there, not a project, so no tenant is checked against it. ``tenant_of``
    gives a host's tenant in the topology (None: unknown, or none set).

    Raises CallerRefused when a token is invalid, a project is not its token's
    tenant, or the tokens are of different tenants.
    """
    given = token_of(header) or token_of(command.token)
    base = None if given is None else _principal(authenticator, given)
    if given is not None and base is None:
        return None  # a bad header token: "not authorised", as before
    tenants: dict[str, Principal] = {} if base is None else {base.tenant: base}
    for label, word in _host_words(command):
        try:
            host = parse_host(word)
        except SyntaxProblem:
            continue  # the command itself says what is wrong with the name
        if host.external:
            continue
        authorising = base
        if host.token is not None:
            authorising = _principal(authenticator, host.token)
            if authorising is None:
                raise CallerRefused(
                    f"{label} validation failed: token prefixed host names need a valid token "
                    "(token/project/host): token not found"
                )
            tenants.setdefault(authorising.tenant, authorising)
        if (
            host.project is not None
            and host.project not in domains
            and authorising is not None
            and not authorising.admin
            and host.project != authorising.tenant
        ):
            raise CallerRefused(f"{label} validation failed: invalid token/tenant pair")
        if host.project is not None and host.project not in domains:
            tenant = tenant_of(host.host)
            if tenant is not None and tenant != host.project:
                raise CallerRefused(
                    f"{label} validation failed: {host.host} is not in project {host.project}"
                )
    if len(tenants) > 1:
        raise CallerRefused(
            "h1 validation failed: the tokens given are of different tenants "
            f"({', '.join(sorted(tenants))})"
        )
    if tenants:
        return next(iter(tenants.values()))
    return None if authenticator.required else authenticator.authenticate(None)


def _principal(authenticator: Authenticator, token: str) -> Principal | None:
    try:
        return authenticator.authenticate(f"Bearer {token}")
    except Unauthorized:
        return None


def _host_words(command: Command) -> list[tuple[str, str]]:
    """(label, word) for every host name the command carries."""
    verb, args = command.words[0], command.words[1:]
    if verb in HOST_COMMANDS:
        _, positional = key_values(args)
        if len(positional) < 3:
            return []
        try:
            first, second = split_pair(positional[2])
        except SyntaxProblem:
            return []
        return [("h1", first), ("h2", second)]
    if verb in HOST_LIST_COMMANDS:
        return [(f"h{n}", word) for n, word in enumerate(args, start=1)]
    if verb == "passthru":  # window [token/]project/host [cookie]
        _, positional = key_values(args)
        return [("h1", positional[1])] if len(positional) > 1 else []
    if verb == "steer":  # window [token/]project ep1 ep2 mb1,mb2: names within the project
        _, positional = key_values(args)
        if len(positional) < 5:
            return []
        space, first, second, boxes = positional[1:5]
        names = [("h1", f"{space}/{first}"), ("h2", f"{space}/{second}")]
        return names + [
            (f"mb{n}", box if "/" in box else f"{space}/{box}")
            for n, box in enumerate(boxes.split(","), start=1)
        ]
    return []
