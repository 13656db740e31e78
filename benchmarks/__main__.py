"""``python -m benchmarks``: run the harness (see ``--help``)."""

from benchmarks.harness import main

raise SystemExit(main())
