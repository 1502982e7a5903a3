"""Golden replies: one ``/tegu/api`` session, every command once, against a reviewed copy.

Each reply in ``fixtures/tegu-golden.json`` was checked against Tegu's
``http_api.go`` (its comments, detail keys and shapes; where README "Tegu
compatibility" lists a deliberate fix, the fix). Identifiers, the version and
the state directory are masked; the clock is fixed, so times are exact. A
change to any reply fails here; if it is meant, review the new reply the same
way and write the file again with ``TEGU_GOLDEN=write``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from webob import Request

from tegu_ryu import __version__
from tegu_ryu.api.wsgi import Api

from .test_api import sample_api, tegu_post

GOLDEN = Path(__file__).parent / "fixtures" / "tegu-golden.json"
SESSION = [
    "ping",
    "reserve proto=tcp 10M +600 h1:5001,h3 c1 voice",
    "reserve proto=tcp 10M +600 h1:5001,h3 c1 voice",
    "reserve 1M +600 h1,h3:22 c5 global_control",
    "ow_reserve 5M +600 h1,!//192.0.2.9 c2 global_data",
    "steer proto=tcp:80 +600 acme h1 h4 h2 c3",
    "passthru proto=udp:10.0.0.1:53 +600 acme/h1 c4",
    "listres",
    "listhosts",
    "listconns h1",
    "listulcaps",
    "setulcap acme 20",
    "listulcap",
    "setdiscount 1M",
    "qdump",
    "graph",
    "pause",
    "pause",
    "resume",
    "refresh h1",
    "verbose 2",
    "verbose 1 resmgr",
    "verbose 1 nosuch",
    "reserve 1M +600 h1,nosuch c voice",
    "reserve 1M nonsense h1,h3 c voice",
    "cancelres {id} wrongcookie",
    "cancelres {id} c1",
    "frobnicate",
]


def normalized(value: Any, state: str) -> Any:
    """``value`` with what changes from run to run masked, and lists whose order follows the
    (random) ids sorted."""
    text = json.dumps(value)
    text = re.sub(r"r-[0-9a-f]{12}", "<id>", text)
    text = text.replace(__version__, "<version>").replace(state, "<state>")
    return _sorted_lists(json.loads(text))


def _sorted_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
            if key in ("reservations", "queues") and isinstance(items, list)
            else _sorted_lists(items)
            for key, items in value.items()
        }
    if isinstance(value, list):
        return [_sorted_lists(item) for item in value]
    return value


def session(tmp_path: Path) -> dict[str, Any]:
    api: Api = sample_api(tmp_path, reset_dscp=True)
    replies: dict[str, Any] = {}
    first_id = ""
    for n, command in enumerate(SESSION):
        reply = tegu_post(api, command.format(id=first_id), "admin-token")
        if n == 1:
            first_id = reply["reqstate"][0]["details"]["id"]
        replies[f"{n:02d} {command}"] = reply
    request = Request.blank("/tegu/api", method="DELETE", body=b"reservation all c5")
    request.headers["X-Auth-Tegu"] = "admin-token"
    replies["DELETE reservation all c5"] = json.loads(request.get_response(api).body)
    replies["GET"] = json.loads(Request.blank("/tegu/api").get_response(api).body)
    return normalized(replies, str(tmp_path))


def test_every_command_answers_as_the_reviewed_golden_reply(tmp_path: Path) -> None:
    replies = session(tmp_path)
    if os.environ.get("TEGU_GOLDEN") == "write":
        GOLDEN.write_text(json.dumps(replies, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(replies) == sorted(golden)
    for command, reply in replies.items():
        assert reply == golden[command], command
