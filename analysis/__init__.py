"""Shared analysis code: robust summary statistics (`analysis.stats`) and
curve fitting for scaling laws and emergence (`analysis.fits`)."""
