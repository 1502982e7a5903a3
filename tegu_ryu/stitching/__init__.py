"""WAN stitching: bandwidth reservations that cross into a peer domain run by its own tegu_ryu."""
