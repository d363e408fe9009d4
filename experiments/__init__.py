"""One module per phenomenon; each defines ``EXPERIMENT`` (see ``physai.Experiment``)."""
