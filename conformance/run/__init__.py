"""Stage 2, running: cases -> native framework calls in isolated workers -> raw results.

``plan`` decides which implementation runs which case, ``runner`` dispatches them,
``workers`` is the parent side of the worker processes, ``worker`` the child side, ``wire``
the bit-exact array encoding between them.
"""
