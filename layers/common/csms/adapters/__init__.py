"""One module per technology, each implementing ports from csms.ports."""
