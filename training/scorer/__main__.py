"""``python -m training.scorer {train,evaluate,score,tiny}`` (see :mod:`training.scorer.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
