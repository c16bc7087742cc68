"""Services of the training app: all writes to TrainingRun/Scorer, and the worker's body.

- runs.py: create, enqueue, cancel and execute training/evaluation runs (the Celery task calls
  `run_execute`; the `train_scorer` command calls it in the foreground).
- exporting.py: the bridge to the platform's `sft` exporter (annotation.services.exports).
- scorers.py: register checkpoints (a run's output, a folder, the tiny demo model) and score uploads.
- configs.py: validating a scorer config through training.scorer.config (no torch needed).

torch/transformers are imported only inside the functions that train or score, so the web process
and the default-queue workers run without the training extra.
"""
