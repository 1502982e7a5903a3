"""Host agents: the controller's side of ``tegu-agent`` (wire protocol, listener, registry)."""
