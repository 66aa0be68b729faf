"""Each loss against the torch built-in or its closed form, values and gradients."""
import pytest
import torch
import torch.nn.functional as F

from experiments import registry
from experiments.convergence.losses import LOSSES, get_loss


def _batch(seed=0, n=32, c=7, dtype=torch.float64, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=g, dtype=dtype) * scale).requires_grad_()
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


def _t(z, y):
    return F.one_hot(y, z.shape[-1]).to(z.dtype)


# Each loss against the torch built-in (mean reduction), or its closed form where there is none.
REFERENCES = {
    "cross_entropy": lambda z, y: F.cross_entropy(z, y),
    "cross_entropy_ls": lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1),
    "bce_ovr": lambda z, y: F.binary_cross_entropy_with_logits(z, _t(z, y)),
    "mse_softmax": lambda z, y: F.mse_loss(torch.softmax(z, -1), _t(z, y)),
    "mse_sigmoid": lambda z, y: F.mse_loss(torch.sigmoid(z), _t(z, y)),
    "mse_logits": lambda z, y: F.mse_loss(z, _t(z, y)),           # k = M = 1
    "hinge": lambda z, y: torch.nn.MultiMarginLoss(p=1, margin=1.0)(z, y),
    "squared_hinge": lambda z, y: torch.nn.MultiMarginLoss(p=2, margin=1.0)(z, y),
    "focal": lambda z, y: (-(1 - torch.softmax(z, -1).gather(1, y[:, None])) ** 2
                           * torch.log_softmax(z, -1).gather(1, y[:, None])).mean(),
}


def test_every_loss_has_a_reference_a_label_and_a_definition():
    """The built-ins register in registry.BUILTIN_LOSSES' order (the list a config is checked against
    without torch), each with a reference here, a label, a definition and a closed-form gradient."""
    assert list(LOSSES) == list(registry.BUILTIN_LOSSES) and set(REFERENCES) == set(LOSSES)
    for s in LOSSES.values():
        assert s.label and s.definition and s.grad is not None and s.source == "built-in"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_reference_value_and_gradient(name):
    z, y = _batch()
    ours = LOSSES[name](z, y).mean()
    ref = REFERENCES[name](z, y)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    (g_ours,) = torch.autograd.grad(ours, z)
    (g_ref,) = torch.autograd.grad(REFERENCES[name](z, y), z)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_keeps_leading_run_axis(name):
    z, y = _batch(n=12)
    stacked = LOSSES[name](z.detach().view(3, 4, -1), y.view(3, 4))   # (K=3, B=4)
    assert stacked.shape == (3, 4)
    torch.testing.assert_close(stacked.reshape(-1), LOSSES[name](z.detach(), y))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck_float64(name):
    z, y = _batch(n=5, c=4, scale=1.0)
    assert torch.autograd.gradcheck(lambda t: LOSSES[name](t, y).mean(), (z,))


def test_cross_entropy_closed_form():
    z, y = _batch()
    expected = torch.logsumexp(z, -1) - z.gather(-1, y[:, None]).squeeze(-1)
    torch.testing.assert_close(LOSSES["cross_entropy"](z, y), expected)


def test_mse_sigmoid_gradient_vanishes_when_saturated():
    """d l / d z_j = (2/C)(s_j - t_j) s_j (1 - s_j): the lecture's vanishing gradient."""
    z = torch.tensor([[-30.0, 30.0, 0.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0])
    (g,) = torch.autograd.grad(LOSSES["mse_sigmoid"](z, y).sum(), z)
    s = torch.sigmoid(z.detach())
    t = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(g, 2 / 3 * (s - t) * s * (1 - s))
    # wrong by the largest possible margin on classes 0 and 1, yet almost no gradient
    assert g[0, :2].abs().max() < 1e-12
    (g_ce,) = torch.autograd.grad(LOSSES["cross_entropy"](z, y).sum(), z)
    assert g_ce[0, 0] < -0.99


def test_label_smoothing_closed_form():
    z, y = _batch()
    eps = 0.25
    logp = torch.log_softmax(z, -1)
    expected = (1 - eps) * -logp.gather(1, y[:, None]).squeeze(1) + eps * -logp.mean(-1)
    torch.testing.assert_close(get_loss("cross_entropy_ls", {"label_smoothing": eps})(z, y), expected)


def test_rescaled_square_loss_closed_form():
    """Hui & Belkin: (1/C)[k (z_y - M)^2 + sum_{j != y} z_j^2]."""
    z, y = _batch(c=5)
    k, M = 3.0, 7.0
    zy = z.gather(1, y[:, None]).squeeze(1)
    others = (z ** 2).sum(-1) - zy ** 2
    expected = (k * (zy - M) ** 2 + others) / 5
    torch.testing.assert_close(get_loss("mse_logits", {"square_k": k, "square_M": M})(z, y), expected)


def test_focal_with_gamma_zero_is_cross_entropy():
    z, y = _batch()
    torch.testing.assert_close(get_loss("focal", {"focal_gamma": 0.0})(z, y), LOSSES["cross_entropy"](z, y))


def test_get_loss_binds_only_the_parameters_a_loss_takes():
    params = {"label_smoothing": 0.3, "focal_gamma": 1.0, "square_k": 2.0, "square_M": 3.0, "margin": 2.0}
    z, y = _batch()
    for name in LOSSES:
        get_loss(name, params)(z, y)  # no unexpected keyword
    torch.testing.assert_close(get_loss("hinge", params)(z, y).mean(),
                               torch.nn.MultiMarginLoss(p=1, margin=2.0)(z, y))


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="cross_entropy"):
        get_loss("mse")


def test_registry_equals_the_torch_free_list_and_the_schema_default(schema):
    """A config is checked against registry.BUILTIN_LOSSES without torch: it must be what registers; the
    default sweep is every built-in."""
    default = schema["properties"]["convergence"]["properties"]["losses"]["default"]
    assert list(default) == list(LOSSES) == list(registry.BUILTIN_LOSSES)


@pytest.mark.parametrize("scale", [0.3, 3.0, 30.0])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_closed_form_gradient_equals_autograd(name, scale):
    """The training engine's (l, dl/dz) without autograd equal the loss and its autograd gradient,
    per example, in float64, on a (K, B, C) stack whose logits are stored class-first (the engine's
    layout: a transposed view)."""
    from experiments.convergence.losses import get_loss_grad

    params = {"label_smoothing": 0.2, "focal_gamma": 1.5, "square_k": 2.0, "square_M": 3.0, "margin": 0.7}
    z, y = _batch(n=24, c=5, scale=scale, seed=3)
    z = z.detach().view(3, 8, 5).transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()  # (K, B, C) view
    y = y.view(3, 8)
    loss = get_loss(name, params)(z, y)
    (want,) = torch.autograd.grad(loss.sum(), z)
    got_loss, got = get_loss_grad(name, params)(z.detach(), y)
    torch.testing.assert_close(got_loss, loss.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["hinge", "squared_hinge"])
def test_hinge_gradient_at_the_kink_is_autograd_s(name):
    """At m_j = 0 exactly (z_y - z_j = margin), torch's clamp passes the gradient; so does ours."""
    from experiments.convergence.losses import get_loss_grad

    z = torch.tensor([[2.0, 1.0, -5.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0])
    (want,) = torch.autograd.grad(LOSSES[name](z, y).sum(), z)
    torch.testing.assert_close(get_loss_grad(name)(z.detach(), y)[1], want)
