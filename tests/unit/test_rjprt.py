"""tegu_req's output is Tegu's rjprt output, line for line (gopkgs jsontools prettyprint)."""

from __future__ import annotations

from tegu_ryu.cli import rjprt

REPLY = {
    "endstate": {"status": "OK", "comment": ""},
    "reqstate": [
        {"status": "OK", "request": 1, "comment": "", "details": {"id": "r-1", "ports": [80, 0]}}
    ],
}


def test_the_default_form_is_an_indented_hierarchy_of_key_value_lines() -> None:
    assert rjprt.hierarchy(REPLY, "reserve") == (
        "reserve:\n"
        "    endstate:\n"
        "        status = OK\n"
        "        comment = \n"
        "\n"
        "    reqstate[0]:\n"
        "        status = OK\n"
        "        request = 1.00\n"
        "        comment = \n"
        "        details:\n"
        "            id = r-1\n"
        "\n"
        "            ports[0] = 80.00\n"
        "\n"  # Go's flag set by the array is still up after its first scalar
        "            ports[1] = 0.00\n"
    )
    ids = [
        line.split()[2]
        for line in rjprt.hierarchy(REPLY, "x").splitlines()
        if line.split()[:1] == ["id"]
    ]
    assert ids == ["r-1"]  # awk '$1 == "id" { print $3 }' still works


def test_the_dotted_form_names_every_leaf_and_every_array_length() -> None:
    assert rjprt.dotted(REPLY, "x").splitlines() == [
        "x.endstate.status = OK",
        "x.endstate.comment = ",
        "x.reqstate[len] = 1",
        "x.reqstate[0].status = OK",
        "x.reqstate[0].request = 1.00",
        "x.reqstate[0].comment = ",
        "x.reqstate[0].details.id = r-1",
        "x.reqstate[0].details.ports[len] = 2",
        "x.reqstate[0].details.ports[0] = 80.00",
        "x.reqstate[0].details.ports[1] = 0.00",
    ]


def test_scalars_print_as_go_printed_them() -> None:
    assert [rjprt.scalar(v) for v in (None, True, False, 3, 2.5, "x")] == [
        "null/undefined",
        "true",
        "false",
        "3.00",
        "2.50",
        "x",
    ]
