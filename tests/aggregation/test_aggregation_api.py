"""The public API: names, errors, empty input, frame layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from annotation.aggregation import METHODS, aggregate


def test_methods_lists_the_four_methods_with_mean_first():
    assert METHODS == ("mean", "zscore", "bt500", "mle")


def test_unknown_method_raises_value_error_naming_the_choices(small_ratings):
    with pytest.raises(ValueError, match=r"unknown aggregation method 'median'.*mean"):
        aggregate(small_ratings, method="median")


def test_unknown_param_raises_value_error(small_ratings):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['vmin'\] for method 'mle'"):
        aggregate(small_ratings, method="mle", params={"vmin": 0.1})


def test_mean_takes_no_params(small_ratings):
    with pytest.raises(ValueError, match="allowed: \\(none\\)"):
        aggregate(small_ratings, params={"x": 1})


@pytest.mark.parametrize(
    "method, params",
    [
        ("mle", {"v_min": 0}),
        ("mle", {"max_iter": 0}),
        ("mle", {"tol": -1.0}),
        ("mle", {"zero_mean_bias": "yes"}),
        ("zscore", {"scale": (5, 1)}),
        ("zscore", {"scale": "1-5"}),
        ("zscore", {"min_annotator_ratings": 1}),
        ("bt500", {"ratio_threshold": 1.5}),
        ("bt500", {"normal_factor": float("nan")}),
        ("bt500", {"kurtosis_range": 3}),
    ],
)
def test_bad_param_values_raise_value_error(small_ratings, method, params):
    with pytest.raises(ValueError, match=method):
        aggregate(small_ratings, method=method, params=params)


def test_params_not_a_mapping_raises_value_error(small_ratings):
    with pytest.raises(ValueError, match="mapping"):
        aggregate(small_ratings, method="mle", params=[("v_min", 1)])


@pytest.mark.parametrize("method", METHODS)
def test_empty_input_gives_empty_frames_with_the_columns(method):
    empty = pd.DataFrame(
        {
            "item": pd.Series([], dtype="int64"),
            "annotator": pd.Series([], dtype="int64"),
            "score": pd.Series([], dtype="float64"),
        }
    )
    result = aggregate(empty, method=method)
    assert result.items.empty and result.annotators.empty
    assert list(result.items.columns) == ["mos", "std", "ci95", "n"]
    assert list(result.annotators.columns) == ["bias", "inconsistency", "n", "rejected"]
    assert result.info["n_ratings"] == 0


def test_empty_frame_without_columns_is_accepted():
    assert aggregate(pd.DataFrame()).items.empty


def test_missing_column_raises_value_error():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['annotator'\]"):
        aggregate(pd.DataFrame({"item": [1], "score": [3]}))


def test_missing_score_raises_value_error():
    with pytest.raises(ValueError, match="non-finite"):
        aggregate(pd.DataFrame({"item": [1, 2], "annotator": [1, 1], "score": [3, np.nan]}))


def test_not_a_dataframe_raises_value_error():
    with pytest.raises(ValueError, match="DataFrame"):
        aggregate([(1, 1, 3)])


@pytest.mark.parametrize("method", METHODS)
def test_frames_are_indexed_by_sorted_ids_with_documented_dtypes(small_ratings, method):
    result = aggregate(small_ratings.iloc[::-1], method=method)
    assert result.items.index.name == "item"
    assert result.items.index.tolist() == [1, 2, 3, 4]
    assert result.annotators.index.tolist() == [10, 11, 12, 13]
    assert result.items.dtypes.to_dict() == {
        "mos": np.float64,
        "std": np.float64,
        "ci95": np.float64,
        "n": np.int64,
    }
    assert result.annotators["rejected"].dtype == bool
    assert result.annotators["n"].tolist() == [2, 3, 2, 3]


@pytest.mark.parametrize("method", METHODS)
def test_info_is_json_serialisable_and_names_method_and_params(small_ratings, method):
    info = aggregate(small_ratings, method=method).info
    decoded = json.loads(json.dumps(info))
    assert decoded["method"] == method
    assert isinstance(decoded["params"], dict)
    assert decoded["n_items"] == 4 and decoded["n_annotators"] == 4 and decoded["n_ratings"] == 10


@pytest.mark.parametrize("method", METHODS)
def test_single_rating_item_has_nan_std_and_ci(small_ratings, method):
    row = aggregate(small_ratings, method=method).items.loc[4]
    assert row["n"] == 1 and np.isnan(row["std"]) and np.isnan(row["ci95"])


def test_importable_without_django_settings():
    import subprocess
    import sys

    code = (
        "import sys; import annotation.aggregation as a; "
        "assert 'django' not in sys.modules, 'django imported'; print(a.METHODS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
