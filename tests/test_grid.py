import pytest

from physai.grid import GridError, chain, logspace, product, zipped


def test_product_varies_last_axis_fastest():
    g = product(a=[1, 2], b=["x", "y"])
    assert g.points() == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_product_scalar_is_one_value_axis_and_nested_grids_combine():
    g = product(zipped(a=[1, 2], b=[3, 4]), c=5)
    assert g.points() == [{"a": 1, "b": 3, "c": 5}, {"a": 2, "b": 4, "c": 5}]


def test_product_rejects_repeated_axis():
    with pytest.raises(GridError, match="repeats axis 'a'"):
        product(product(a=[1]), a=[2]).points()


def test_zipped_needs_equal_lengths():
    with pytest.raises(GridError, match="different lengths"):
        zipped(a=[1, 2], b=[1])


def test_chain_concatenates_parts_with_different_axes():
    g = chain(product(part="a", x=[1, 2]), product(part="b", y=[3]))
    assert g.points() == [{"part": "a", "x": 1}, {"part": "a", "x": 2}, {"part": "b", "y": 3}]
    assert g.axes() == {"part": ["a", "b"], "x": [1, 2], "y": [3]}


def test_override_replaces_every_axis_of_that_name():
    g = chain(product(part="a", seed=[0, 1, 2]), product(part="b", seed=[0]))
    g2 = g.override("seed", [7])
    assert [p["seed"] for p in g2.points()] == [7, 7]
    assert len(g.points()) == 4  # the original is unchanged


def test_override_inside_zipped_checks_lengths():
    with pytest.raises(GridError):
        zipped(a=[1, 2], b=[3, 4]).override("a", [1])


def test_logspace_endpoints_and_integer_dedup():
    v = logspace(1, 100, 3)
    assert v == [1.0, 10.0, 100.0]
    ints = logspace(1, 4, 10, integer=True)
    assert ints == sorted(set(ints)) and ints[0] == 1 and ints[-1] == 4
    with pytest.raises(GridError):
        logspace(0, 1, 3)
