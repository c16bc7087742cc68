"""Q-Eval-Score: fine-tune, evaluate and run a vision-language scorer.

Pure PyTorch/transformers; it never imports Django, so it runs alone on any GPU box:
``python -m training.scorer {train,evaluate,score,tiny}``. This ``__init__`` stays import-light (no torch)
so that the platform can use :mod:`training.scorer.prompts` without the training extra installed.

Public API (import from the submodules; signatures are documented there):

* :mod:`.config`   ``ScorerConfig``, ``load_config(path, overrides)``, ``save_config`` (no torch)
* :mod:`.train`    ``train(config, *, on_progress=None, should_stop=None) -> TrainResult``
* :mod:`.predict`  ``evaluate_checkpoint(ckpt, data_dir, *, split, out_dir, ...) -> PredictResult``,
                   ``predict(ckpt, data_dir, *, split) -> rows``, ``score_items(ckpt, items, batch_size) -> list[dict]``
* :mod:`.modeling` ``load_scorer(ckpt) -> LoadedScorer`` (load once, pass to ``score_items`` repeatedly)
* :mod:`.metrics`  ``build_report``, ``evaluate_predictions_file(csv, out_dir)`` (no torch)
* :mod:`.v2s`      Vague-to-Specific rewriting for long prompts (no torch unless an HF LLM is used)
* :mod:`.tiny`     ``build_tiny_model(out_dir, seed=0) -> Path``: a tiny random Qwen2-VL for tests and demos
* :mod:`.synthetic` ``write_sft_export``, ``make_synthetic_export``: small exports without the platform (no torch)

Module map: prompts (exact context prompts, level words) · config · media (Pillow/PyAV) · processing
(processor adapter, Qwen2-VL fallback without torchvision) · data (export reader, collator) · scoring
(score and losses) · modeling (load/LoRA/save) · train (the Accelerate training recipe) · checkpoint (resumable
training state) · predict · metrics · v2s · cli.
"""
