"""The ``trustscope`` command line: thin shells over the library engines."""
