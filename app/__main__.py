"""`python -m app` behaves like the `holoremote` command (tests use it from a checkout)."""

import sys

from app.cli import main

sys.exit(main())
