"""selchat: a single-threaded selectors chat server, its terminal client and its load generator."""

__version__ = "0.1.0"
