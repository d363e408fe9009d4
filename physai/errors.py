"""The one exception type the CLI turns into a one-line message and exit 2."""


class PhysaiError(Exception):
    """Bad input or an unusable environment, explained in one line."""
