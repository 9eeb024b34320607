"""The studies the book's chapters run: the run families and their shared run parameters
(:mod:`experiments`, :mod:`run_parameters`), the claims with their controls (:mod:`claims`,
:mod:`training_gap`, :mod:`inference_claims`, :mod:`trajectory_claims`, :mod:`factors`), the
factor sweeps (:mod:`factors`: k-means labels, windows; :mod:`guidance`), the toy model's summaries
and explorer (:mod:`toy_analysis`, :mod:`explorer`), and each chapter's computing, tables and
figures (:mod:`toy_study`, :mod:`toy_tables`, :mod:`toy_figures`; :mod:`gap_study`,
:mod:`gap_tables`, :mod:`gap_figures`, :mod:`gap_prose`; :mod:`inference_figures`;
:mod:`trajectory_figures`; :mod:`factor_study`, :mod:`factor_tables`, :mod:`factor_figures`) with
the number formats of tables and prose (:mod:`numbers`). The only layer of the library that knows
the chapters: it takes trained runs (or configs, which it trains or loads) and measures them with
:mod:`diffgen_lib.measure`.
"""
