"""Training, synthesis and evaluation of darkroom's networks; the worker image ships none of it.

- ``photos``: the files, the held-out split by name, the photo bank in memory.
- ``synth``, ``jpeg``: dark RAW and dark sRGB made in batches on the training device.
- ``batches``: a batch per (seed, step); ``losses``: L1 + SSIM; ``metrics``: PSNR and SSIM.
- ``config``, ``train``: one run (``python -m training.train``, ``darkroom train``).
- ``evaluate``: held-out scores against ``baseline`` and LibRaw (``darkroom eval``).
- ``exposure``: fits the learned exposure the worker's ``auto`` ratio uses.
- ``pack``, ``gpu_run``, ``gpu_bench``: the portable run for a bare GPU box.

Imports ``worker`` (the network, its inputs, the baseline) and never api, pool or darkroom.
"""
