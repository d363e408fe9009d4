"""Experiments of one's own, run by physai (see ``random_labels``)."""
