"""The studies the book's chapters run: the run families and their shared run parameters
(:mod:`experiments`, :mod:`run_parameters`), the training-gap study (:mod:`training_gap`; the
chapter's runs, tables, figures and quoted numbers: :mod:`gap_study`, :mod:`gap_tables`,
:mod:`gap_figures`, :mod:`gap_prose`), the factor sweeps (:mod:`factors`: guidance, k-means labels,
windows), the toy model's summaries and explorer (:mod:`toy_analysis`, :mod:`explorer`; the
chapter's measurements, tables and figures: :mod:`toy_study`, :mod:`toy_tables`, :mod:`toy_figures`)
and the number formats of tables and prose (:mod:`numbers`). The only layer of the library that knows the
chapters: it takes configs, trains (or loads) their runs and measures them with
:mod:`diffgen_lib.measure`.
"""
