"""The physical layer: connections, execution, bulk loading."""
