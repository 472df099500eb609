"""Subcommands of `holoremote`; each module has `add_arguments(parser)` and `run(args)`."""
