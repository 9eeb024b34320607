"""diffgen_lib: the library behind the diffgen book.

One concern per module: ``data``, ``networks``, ``diffusion``, ``train``, ``analytic``, ``toy``,
``metrics``, ``fetch`` (downloads the datasets ``data`` reads) and ``book`` (the command line that
executes and builds the chapters).
"""

__version__ = "0.1.0"
