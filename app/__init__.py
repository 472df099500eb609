"""holoremote core: importable without Qt, so the command line and scripts stay light."""

__version__ = "0.1.0"
