"""Facts about the code the report states, as tables (the report imports no torch and none of this):
each loss's label, definition, output non-linearity and gradient norm at z = 0; the analytic gradient
curves; the constants of training (``results/report/losses.parquet``, ``gradients.parquet``,
``constants.parquet``, written by the workflow's ``report_tables`` rule)."""

from __future__ import annotations

import pandas as pd

from .gradients import grad_norm_at_zero, gradient_at, logit_gradients
from .losses import STUCK_FRACTIONS, registered, stuck_below
from .training import DIVERGENCE_FACTOR

CONFIDENTLY_WRONG = -10.0     # the true-class logit at which the report compares the gradients


def loss_facts(losses: list[str], num_classes: int, params: dict) -> pd.DataFrame:
    """One row per loss, in the registry's order, the config's ``losses`` first marked ``swept``: its
    label and definition, the non-linearity between it and the logits, how test probabilities are read
    from its logits, ||dl/dz|| at z = 0 for ``num_classes`` classes, and d loss / d z_y at the confidently
    wrong logit :data:`CONFIDENTLY_WRONG` (10 classes, other logits 0)."""
    curves = logit_gradients()
    return pd.DataFrame([dict(loss=name, label=s.label, definition=s.definition, swept=name in losses,
                              output=s.output, predictive=s.predictive, closed_form=s.grad is not None,
                              source=s.source,
                              grad_norm_at_zero=grad_norm_at_zero(name, num_classes, params),
                              grad_when_wrong=gradient_at(curves, name, CONFIDENTLY_WRONG))
                         for name, s in registered().items()])


def dataset_names() -> pd.DataFrame:
    """How the report names each registered dataset (kind, name, label: rows of ``names.parquet``)."""
    from .. import registry
    from .data import DATASETS

    registry.ensure_loaded()
    return pd.DataFrame([dict(kind="dataset", name=n, label=d.label) for n, d in DATASETS.items()])


def constants() -> pd.DataFrame:
    """The constants of training the report states: name, value and what it is."""
    rows = [("divergence_factor", DIVERGENCE_FACTOR, "a run whose training loss exceeds this many times its "
                                                     "initial loss is stopped as diverged"),
            ("confidently_wrong_logit", CONFIDENTLY_WRONG, "the true-class logit of the gradient comparison")]
    rows += [(f"stuck_fraction.{name}", f, f"stuck: the true-class output below {stuck_below(f):.3g}, its "
                                          f"derivative below {f:g} of its maximum") for name, f in STUCK_FRACTIONS.items()]
    return pd.DataFrame(rows, columns=["name", "value", "meaning"])


def gradient_curves() -> pd.DataFrame:
    """d loss / d z_y against the true-class logit (10 classes, other logits 0), per loss."""
    return logit_gradients()
