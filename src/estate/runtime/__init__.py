"""Running plugins: the wire protocol, the child-process host, plugin environments."""
