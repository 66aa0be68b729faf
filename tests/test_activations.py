import pytest
import torch

from experiments.activations import ACTIVATIONS, get_activation


def test_registry_equals_schema_enum(schema):
    enum = schema["properties"]["convergence"]["properties"]["activations"]["items"]["enum"]
    assert list(enum) == list(ACTIVATIONS)


@pytest.mark.parametrize("name,expected", [
    ("identity", [-2.0, 0.0, 3.0]),
    ("relu", [0.0, 0.0, 3.0]),
    ("sigmoid", [1 / (1 + torch.e ** 2), 0.5, 1 / (1 + torch.e ** -3)]),
    ("tanh", [-0.9640275800758169, 0.0, 0.9950547536867305]),
    ("gelu", [-0.04550026389635842, 0.0, 2.9959502081215464]),  # h * Phi(h)
])
def test_activation_values(name, expected):
    h = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(get_activation(name)(h), torch.tensor(expected, dtype=torch.float64))


def test_unknown_activation():
    with pytest.raises(ValueError, match="relu"):
        get_activation("swish")
