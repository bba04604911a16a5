"""The helpers every study's report shares (utils/report.py)."""

import math

import pytest

from simreal.utils.errors import InputError
from simreal.utils.report import format_mean_std, machine, markdown_table, mean_std


def test_mean_std_is_the_sample_standard_deviation():
    # values 1, 2, 6: mean 3; squared deviations 4 + 1 + 9 = 14; sample variance 14 / 2 = 7 (population: 14 / 3)
    s = mean_std([1, 2, 6])
    assert s["mean"] == 3 and math.isclose(s["std"], math.sqrt(7)) and s["values"] == [1.0, 2.0, 6.0]
    assert mean_std([4.5]) == {"mean": 4.5, "std": 0.0, "values": [4.5]}
    assert math.isnan(mean_std([])["mean"])
    assert format_mean_std(mean_std([1, 2, 6])) == "3.0 ± 2.6" and format_mean_std(mean_std([4.5]), 2) == "4.50"
    assert mean_std(x for x in (0, 2))["std"] == pytest.approx(math.sqrt(2))  # any iterable


def test_markdown_table_and_a_row_of_the_wrong_width():
    assert markdown_table(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    with pytest.raises(InputError, match="3 cells for 2 columns"):
        markdown_table(["a", "b"], [["1", "2", "3"]])


def test_machine_names_what_a_time_depends_on():
    m = machine()
    assert {"platform", "processor", "cpu_count", "torch_threads", "torch", "simreal", "cuda"} <= set(m)
