"""Shared analysis code: robust summary statistics (`analysis.stats`), curve
fitting for scaling laws (`analysis.fits`, on the engine in `analysis.lawfit`)
and transition measures of emergence curves (`analysis.transitions`)."""
