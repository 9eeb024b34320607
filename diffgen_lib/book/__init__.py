"""The book pipeline: parameter specs, chapter execution, HTML build and chapter helpers.

Command line (run from the repository root, inside the project's virtual environment)::

    python -m diffgen_lib.book list                      # chapters, parameters, defaults, allowed values
    python -m diffgen_lib.book build [--force] [STEM..]  # what `make book` runs
    python -m diffgen_lib.book run CHAPTER -p NAME VALUE [-p ...] [--profile NAME] [--no-html] [--check]
    python -m diffgen_lib.book train 03_training_gap [-p ...] [--profile NAME] [--check]
    python -m diffgen_lib.book data DATASET [..] [--data-dir DIR] [--mirror URL]   # mnist, fashion_mnist, cifar10

``build`` executes every chapter listed in ``_toc.yml`` (default parameters, papermill) into
``book/<stem>.ipynb`` unless its stamp in ``_build/stamps/`` says nothing changed, then builds the
HTML with Jupyter Book into ``_build/html``. ``run`` executes one chapter with other parameters
into ``_build/runs/<stem>-<hash>.ipynb`` and builds that page alone; the committed notebook is
never touched. ``train`` trains the shared runs of the training-gap chapter outside a notebook.
Parameters are validated against the chapter's spec (and ``device cuda`` against the machine)
before anything executes: a bad value stops with one line and exit code 2; ``--check`` stops
there with exit code 0. Values may start with "-" (``-p sigma -0.5``). Ctrl-C: one line, exit 130.
``data`` downloads datasets into the data folder the loaders read (``diffgen_lib.fetch``: published
MD5s checked, nothing partial kept; exit code 1 on a failed download); the chapters never download.

Chapter side (first code cell after the ``parameters`` cell)::

    from diffgen_lib.book import setup_chapter, claim, scale, sig3
    params = setup_chapter("03_training_gap", globals())

Parameter spec grammar (a trailing comment on each assignment of the ``parameters`` cell)::

    n_train = 1000      # int in [50, 1797]: number of training images
    lr = 2e-3           # float in (0, 1]: Adam learning rate
    dataset = "digits"  # one of {"digits", "mnist5k"}: image dataset
    snapshots = [250]   # list of int: training steps at which snapshots are kept
    use_ema = True      # bool: keep an EMA copy of the weights
    n_val = 500         # int in [0, 1000], at most dataset_size(dataset) - n_train: val images
    weights = [0.0, 1.0]  # list of float in [0, 10], containing 0, sorted: guidance weights

Types: ``int``, ``float`` (ints accepted), ``str``, ``bool``, ``list of int``, ``list of float``,
``list of str``; an optional range ``in [a, b]``/``(a, b]``/``[a, inf)`` (for lists it applies to
every element) with Python-evaluable bounds; or ``one of {...}``; then clauses, each after a comma;
then ``: description``. A list needs at least one element. Clauses:

- ``at most EXPR``, ``at least EXPR``, ``above EXPR``, ``below EXPR``: the value (each element
  of a list) is <=, >=, >, < EXPR;
- ``containing EXPR``: a list holds EXPR's value; ``sorted``: a list is in increasing order;
  ``may be empty``: a list may be ``[]``.

EXPR is Python arithmetic on numbers, the chapter's other parameters and ``dataset_size(name)``
(images in a dataset's pool, ``diffgen_lib.data.POOL_SIZES``), ``min``, ``max``, ``len``. The
command line and ``setup_chapter`` both check the clauses. No "=" in these comments: papermill
warns about any line of the parameters cell with more than one.

Only the standard library is imported at module level (``setup_chapter`` imports torch and
matplotlib; the command line imports papermill and jupytext only once the parameters are valid).

Modules: ``params`` (the spec grammar, validation), ``chapter`` (``setup_chapter``, ``claim``,
``scale``, ``sig3``), ``aggregate`` (CLAIM/SCALE lines, claims and timings pages), ``toc`` (chapters and
their order), ``stamps`` (what is up to date), ``runner`` (papermill, HTML build), ``cli``.
"""

from .paper import PAPER
from .aggregate import (
    Claim,
    claim_rows,
    claims_markdown,
    claims_of_notebook,
    claims_text,
    collect_claims,
    figure_png,
    glued,
    findings_markdown,
    tallies,
    tallies_markdown,
    tally,
    tally_text,
    verdict_badge,
    collect_timings,
    format_claim,
    format_scale,
    parse_claim_line,
)
from .chapter import (
    BOOK_RC, ChapterParams, claim, claim_over_draws, format_value, glue_values, markdown_table, pin_threads,
    resolve_device, scale, show_table,
    setup_chapter, sig3,
)
from .cli import cmd_build, cmd_list, cmd_run, load_profile, main, parse_args
from .run_page import build_run_page, run_config
from .layout import AGGREGATE_PAGES, BOOK, LIB, PARAMETER_TAGS, ROOT, book_threads
from .params import (
    ParamError,
    ParamSpec,
    SpecError,
    chapter_source,
    check_relations,
    parse_spec,
    parse_spec_comment,
    parse_spec_source,
    resolve_cli_value,
    validate,
)
# _jupyter_book is private, but the tests use it
from .runner import _jupyter_book, build_html, execute_chapter, kernel_environment  # noqa: F401
from .stamps import is_up_to_date, library_files, stamp_key, stamp_path, write_stamp
from .toc import all_chapters, resolve_chapter, toc_chapters, toc_files

__all__ = [
    "AGGREGATE_PAGES", "BOOK", "BOOK_RC", "LIB", "PARAMETER_TAGS", "ROOT", "book_threads",
    "ChapterParams", "Claim", "ParamError", "ParamSpec", "SpecError", "claim_over_draws", "tally",
    "tally_text", "verdict_badge",
    "all_chapters", "build_html", "build_run_page", "chapter_source", "check_relations", "claim", "claim_rows",
    "claims_markdown", "claims_of_notebook", "claims_text", "cmd_build", "cmd_list", "cmd_run",
    "collect_claims", "collect_timings", "figure_png", "findings_markdown", "glued", "PAPER", "tallies", "tallies_markdown", "execute_chapter", "format_claim", "format_scale",
    "format_value", "glue_values", "markdown_table", "show_table",
    "is_up_to_date", "kernel_environment", "library_files", "load_profile", "main",
    "parse_args", "parse_claim_line", "parse_spec", "parse_spec_comment", "parse_spec_source", "pin_threads",
    "resolve_chapter", "resolve_cli_value", "resolve_device", "run_config", "scale",
    "setup_chapter", "sig3", "stamp_key", "stamp_path", "toc_chapters", "toc_files", "validate",
    "write_stamp",
]
