"""Wire codecs: each renders the hub's events (selchat.outbound) as one protocol's bytes."""
