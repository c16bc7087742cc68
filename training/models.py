"""Training and evaluation runs of the scorer, and registered checkpoints."""
