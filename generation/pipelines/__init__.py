"""Text-to-image and text-to-video generation with diffusers, without Django.

The platform's GPU workers (the `generation` Celery queue) call this package, and it runs alone on any GPU
box too (``python -m generation.pipelines ...``), like ``training/scorer``. It never imports Django.

- :mod:`.spec`: :class:`RunSpec`, a generator's exact run parameters (model, pipeline class, scheduler,
  steps, guidance, resolution, frames, fps, dtype, batch size), parsed and checked without torch;
- :mod:`.tiny`: tiny randomly initialised pipelines built from configs (text-to-image and text-to-video),
  with tokenizer files written here, for CPU tests and demos;
- :mod:`.runner`: loads a pipeline once per process and generates a batch of (prompt, seed) pairs, one
  ``torch.Generator`` per output so each output depends on its own seed only;
- :mod:`.media`: writes images (PNG) and videos (MP4, H.264 through PyAV).
"""
