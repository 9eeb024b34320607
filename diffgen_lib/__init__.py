"""diffgen_lib: the library behind the diffgen book, in layers.

- foundations, one concern per module: ``data`` (datasets and splits; ``fetch`` downloads the
  files it reads), ``networks``, ``diffusion`` (EDM preconditioning, loss, sampler, guidance),
  ``analytic`` (closed-form denoisers), ``toy`` (the 2-D toy model), ``features``, ``cache``,
  ``distributed``, ``progress``;
- ``runs`` (a run's config, cache key and trained result) and ``train`` (the training loop);
- ``measure``: measurements of trained runs, knowing no chapter;
- ``studies``: the sweeps and run families the chapters run, their shared run parameters;
- ``book``: the command line that executes and builds the chapters.
"""

__version__ = "0.1.0"
