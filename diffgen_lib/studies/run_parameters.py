"""The run-defining parameters the chapters share, declared once.

The training-gap chapter trains the book's runs and chapters 04-06 load them from the cache, so
the four chapters must give these parameters the same values, and they must accept the same
values. Each is declared here once, in the chapters' spec grammar (type, range, constraints);
a chapter's parameters cell gives the default and says ``# run parameter: <what it is here>``
(optionally with further constraints before the colon, ``# run parameter, at most EXPR: ...``),
and the parameter checks take the declaration from here. No torch import: the command line reads
it before any kernel starts.
"""

DATASETS = ("digits", "mnist5k", "mnist5k14", "mnist", "mnist14", "fashion_mnist", "fashion_mnist14", "cifar10")

SPECS = {
    "dataset": "one of {" + ", ".join(f'"{d}"' for d in DATASETS) + "}",
    "n_train": "int in [50, 100000], at most dataset_size(dataset) - n_val - n_feature",
    "n_val": "int in [20, 30000]",
    "n_feature": "int in [100, 30000]",
    "model": 'one of {"small", "ddpmpp"}',
    "channels": "int in [4, 512]",
    "steps": "int in [50, 10000000]",
    "batch_size": "int in [1, 4096]",
    "precision": 'one of {"fp32", "bf16"}',
    "compile": "bool",
    "device": 'one of {"auto", "cpu", "cuda"}',
    "n_eval": "int in [20, 30000]",
    # The second scale: one run of the same recipe on larger images, where single training
    # images are told apart only at noise levels of the order of sigma_data.
    "scale2_dataset": "one of {" + ", ".join(f'"{d}"' for d in DATASETS) + "}",
    "scale2_n_train": "int in [50, 100000], at most dataset_size(scale2_dataset) - n_val - n_feature",
    "scale2_steps": "int in [50, 10000000]",
    "scale2_threads": "int in [0, 256]",
    # training seeds: the main run's (and the extreme widths') at the first scale, the main run's
    # at the second (seed, seed + 1, ...); the claims' intervals resample them first
    "n_seeds": "int in [1, 10]",
    "scale2_n_seeds": "int in [1, 10]",
}
MARKER = "run parameter"
TRAINING_CHAPTER = "03_training_gap"  # trains the shared runs (``python -m diffgen_lib.book train`` runs its runs)


def spec_text(name: str, comment: str) -> str:
    """The full spec comment of a chapter's ``# run parameter...`` comment for ``name``: this
    module's declaration followed by the chapter's own clauses and description."""
    if name not in SPECS:
        raise KeyError(f"'{name}' is not a shared run parameter (those are: {', '.join(SPECS)})")
    return SPECS[name] + comment[len(MARKER):]
