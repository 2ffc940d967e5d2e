"""Benchmark: the generated training module against PyTorch, scikit-learn, textbook NumPy
and the GEMM floor, all from the same initial weights; plus derivation/codegen scaling.

    python bench/run.py [--workload W1|W2|W3|all] [--quick] [--w3-budget SECONDS]

Prints Markdown tables to stdout (progress to stderr). A script, not a test.
"""

import os
import sys
from pathlib import Path

THREADS = "2"
BENCH_DIR = Path(__file__).resolve().parent


def pin_threads() -> None:
    """Pin BLAS/OpenMP to 2 threads; must run before NumPy or torch is first imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = THREADS


def extend_path() -> None:
    """Make the bench helpers and the project's derive/ and codegen/ importable."""
    for index, path in enumerate((BENCH_DIR, BENCH_DIR.parent)):
        if str(path) not in sys.path:
            sys.path.insert(index, str(path))


if __name__ == "__main__":
    pin_threads()
    extend_path()
    from suite import main

    sys.exit(main())
