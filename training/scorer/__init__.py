"""Q-Eval-Score: fine-tune, evaluate and run a vision-language scorer.

Pure PyTorch/transformers; it never imports Django, so it runs alone on any GPU box:
``python -m training.scorer {train,evaluate,score}``. This ``__init__`` stays import-light (no torch)
so that the platform can use :mod:`training.scorer.prompts` without the training extra installed.
"""
