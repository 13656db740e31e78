"""``python -m radam_cli``: the ``radam`` command, for an environment without its script."""

import sys

from radam_cli.main import main

if __name__ == "__main__":
    sys.exit(main())
