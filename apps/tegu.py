"""The tegu_ryu os-ken application, loadable by path from a checkout.

``tegu-manager`` loads ``tegu_ryu.app`` by default; this file lets a checkout
name the application by path, as ryu-manager users are used to
(``tegu-manager os_ken.topology.switches apps/tegu.py``). os-ken takes the
applications a module defines itself, hence a subclass rather than an import.
"""

from tegu_ryu.app import TeguApp as _TeguApp


class TeguApp(_TeguApp):
    """``tegu_ryu.app.TeguApp``, defined here so that os-ken finds it in this module."""
