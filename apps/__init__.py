"""os-ken applications that tegu-manager loads; each is a thin shim over tegu_ryu."""
