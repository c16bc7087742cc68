"""The vectorised checksum of a scores frame is the row-by-row one (version_checksum), to the byte."""

import numpy as np
import pandas as pd

from annotation.services.mos import frame_checksum, version_checksum


def test_frame_checksum_is_version_checksum():
    rng = np.random.default_rng(5)
    n = 2000
    mos = rng.uniform(1, 5, n)
    mos[:6] = [1.0000005, 2.0000015, 4.9999995, 3.1234565, 1.0, 5.0]  # rounding edges of the 6 decimals
    frame = pd.DataFrame(
        {
            "item_id": rng.permutation(np.repeat(np.arange(n // 2), 2)),
            "dimension": np.tile(["quality", "alignment"], n // 2),
            "mos": mos,
            "n": rng.integers(1, 30, n),
        }
    )
    frame = frame.drop_duplicates(["item_id", "dimension"])
    rows = list(zip(frame["item_id"].tolist(), frame["dimension"].tolist(), frame["mos"].tolist(), frame["n"].tolist()))
    assert frame_checksum(frame) == version_checksum(rows)
    assert frame_checksum(frame.iloc[:0]) == version_checksum([])
