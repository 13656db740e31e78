"""radam_cli: the ``radam`` command (``radam schedule``), an adapter of its own."""
