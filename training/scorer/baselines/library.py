"""Baselines whose maintained implementation lives in a library that cannot be imported on a machine without
torchvision (this project's CPU torch cannot have it beside it). The loading code is real and runs where the
library imports (a GPU box: ``pip install pyiqa`` / ``pip install image-reward`` with torchvision); here it
raises :class:`BaselineUnavailable` naming what to install.

* ``niqe``, ``brisque`` (quality, lower is better): pyiqa's implementations (``pyiqa.create_metric``), which
  follow the MATLAB reference. pyiqa fetches its parameter files on first use into its cache folder: put them
  there (or set ``PYIQA_CACHE``/the torch hub folder) on an offline box.
* ``imagereward`` (alignment/preference, Xu et al. 2023): the ``image-reward`` package's ``ImageReward.load``
  with the local ``ImageReward.pt`` (and ``med_config.json`` beside it); its BLIP code is the package's own.
"""

from __future__ import annotations

from pathlib import Path

from .base import Baseline, BaselineUnavailable


def _need(module: str, install: str):
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken torchvision raises more than ImportError
        raise BaselineUnavailable(
            f"needs {module!r}, which does not import here ({type(exc).__name__}: {exc}); "
            f"install it where torchvision works: {install}"
        ) from exc


class PyiqaBaseline(Baseline):
    dimension = "quality"
    higher_is_better = False
    metric = ""

    def __init__(self, model_path: str | Path | None = None, *, device: str | None = None, **_):
        pyiqa = _need("pyiqa", "pip install pyiqa")
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        kwargs = {"pretrained_model_path": str(model_path)} if model_path else {}
        self.iqa = pyiqa.create_metric(self.metric, device=self.device, as_loss=False, **kwargs)

    def score_images(self, images, prompts):
        import numpy as np
        import torch

        batch = torch.stack(
            [torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1) for im in images]
        )
        with torch.no_grad():
            return self.iqa(batch.to(self.device)).flatten().float().cpu().tolist()

    def score(self, items, batch_size=16):
        return super().score(items, batch_size=1)  # images of different sizes: one at a time


class Niqe(PyiqaBaseline):
    name = "niqe"
    metric = "niqe"


class Brisque(PyiqaBaseline):
    name = "brisque"
    metric = "brisque"


class ImageReward(Baseline):
    name = "imagereward"
    dimension = "alignment"

    def __init__(self, model_path: str | Path, *, device: str | None = None, **_):
        rm = _need("ImageReward", "pip install image-reward")
        import torch

        path = Path(model_path) if model_path else None
        if path is None or not path.is_file():
            raise BaselineUnavailable(f"imagereward: give the local ImageReward.pt file (got {model_path!r})")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        med = path.with_name("med_config.json")
        self.model = rm.load(str(path), device=self.device, med_config=str(med) if med.exists() else None)

    def score_images(self, images, prompts):
        return [float(self.model.score(p, [im])) for im, p in zip(images, prompts)]
