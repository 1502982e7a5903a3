"""The reconciler's wire order and error attribution (its passes are tested through the
controller in test_controller.py and on real switches in tests/ovs)."""

from __future__ import annotations

from tegu_ryu.openflow.flows import Flow, Layer, Meter, Output, cookie, match
from tegu_ryu.openflow.reconcile import Changes
from tegu_ryu.openflow.reconciler import SentMessages, owner_serial, wire_order


def test_a_pass_goes_out_meters_first_and_deletions_last() -> None:
    old = Flow(priority=1, match=match(in_port=1), actions=(Output(2),), cookie=1, meter=9)
    new = Flow(priority=2, match=match(in_port=1), actions=(Output(3),), cookie=1, meter=8)
    changes = Changes(
        meter_add=(Meter(8, 100, 10),),
        flow_add=(new,),
        flow_delete=(old,),
        meter_delete=(Meter(9, 100, 10),),
    )
    assert [verb for verb, _ in wire_order(changes)] == [
        "add meter",
        "add flow",
        "delete flow",
        "delete meter",
    ]


def test_an_error_names_what_was_refused_and_whose_it_was() -> None:
    sent = SentMessages(memory=2)
    owned = cookie(Layer.RESERVATION, 42)
    flow = Flow(priority=5, match=match(in_port=1), actions=(), cookie=owned)
    sent.remember(1, 10, ("add", flow), owner_serial(flow.cookie))
    assert sent.explain(1, 10) == (f"add {flow.match}", 42)
    assert owner_serial(cookie(Layer.BASE)) is None
    sent.remember(1, 11, "barrier", None)
    sent.remember(1, 12, "barrier", None)  # the oldest is forgotten
    assert sent.explain(1, 10) == ("a message no longer remembered", None)
    sent.forget(1)
    assert sent.explain(1, 12)[0] == "a message no longer remembered"
