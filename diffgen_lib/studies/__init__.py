"""The studies the book's chapters run: the run families and their shared run parameters
(:mod:`experiments`, :mod:`run_parameters`), the training-gap study (:mod:`training_gap`), the
factor sweeps (:mod:`factors`: guidance, k-means labels, windows), the toy model's summaries and
explorer (:mod:`toy_analysis`, :mod:`explorer`). The only layer of the library that knows the
chapters: it takes configs, trains (or loads) their runs and measures them with
:mod:`diffgen_lib.measure`.
"""
