"""Statistics and reproducible selection for sample checks (stickprov, ISA 530).

Pure functions only: no Flask, no database. See :mod:`riskreg.sampling.stats` for
sample sizes, limits and evaluations, :mod:`riskreg.sampling.selection` for the
seeded, verifiable selection methods and :mod:`riskreg.sampling.hygiene` for the
PPM-BHK hygiene compliance report.
"""
