"""``python -m conformance``: the ``conformance`` command, for an environment without its script."""

from conformance.cli import main

raise SystemExit(main())
