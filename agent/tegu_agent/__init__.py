"""``tegu-agent``: the tegu_ryu host agent.

It runs beside Open vSwitch on a host whose OVSDB the controller cannot
reach, connects *out* to the controller's agent port, reports the host's
bridges and interfaces (which VM sits on which port, by MAC) and writes the
OVSDB rows the controller wants on them (tunnel ports, linux-htb queues),
checking them again periodically so a hand-deleted row comes back.
"""
