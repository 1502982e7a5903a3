"""tegu_ryu: a reservation controller for OpenFlow networks, on os-ken."""

__version__ = "0.1.0"
