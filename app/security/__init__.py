"""Certificates, chain validation, tokens and the four callbacks, as pure functions
and immutable values: no sockets, no Qt, no globals."""
