import math

import pytest
import torch

from experiments.convergence.activations import ACTIVATIONS, get_activation


def test_registry_equals_schema_enum(schema):
    enum = schema["properties"]["convergence"]["properties"]["activations"]["items"]["enum"]
    assert list(enum) == list(ACTIVATIONS)


@pytest.mark.parametrize("name,expected", [
    ("identity", [-2.0, 0.0, 3.0]),
    ("relu", [0.0, 0.0, 3.0]),
    ("sigmoid", [1 / (1 + math.e ** 2), 0.5, 1 / (1 + math.e ** -3)]),
    ("tanh", [math.tanh(-2.0), 0.0, math.tanh(3.0)]),
    # exact GELU: h * Phi(h), Phi(h) = (1 + erf(h / sqrt 2)) / 2
    ("gelu", [h * (1 + math.erf(h / math.sqrt(2))) / 2 for h in (-2.0, 0.0, 3.0)]),
])
def test_activation_values(name, expected):
    h = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(get_activation(name)(h), torch.tensor(expected, dtype=torch.float64))


def test_unknown_activation():
    with pytest.raises(ValueError, match="relu"):
        get_activation("swish")
