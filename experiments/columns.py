"""Column names of every results table, defined once.

Later capabilities add columns; none of these is ever renamed.
"""

# What identifies a run of the convergence sweep.
RUN_KEYS = ["dataset", "loss", "activation", "hidden", "optimizer", "learn_scale", "logit_scale", "lr", "seed"]

# results/data/datasets.parquet: one row per dataset in the sweep
DATASETS = ["dataset", "source", "n_train", "n_val", "n_test", "num_features", "num_classes", "val_fraction",
            "test_split", "split_seed", "chance", "label"]

# results/convergence/curves.parquet: one row per run and logged step
CURVE_METRICS = ["step", "train_loss", "train_acc", "val_acc", "grad_norm_logits", "mean_abs_logit",
                 "logit_norm", "saturated_frac", "stuck_wrong_frac", "logit_scale_value",
                 "stuck_wrong_frac_strict", "stuck_wrong_frac_loose"]
# the share of training examples wrong and stuck at each threshold (experiments.convergence.losses.STUCK_FRACTIONS:
# the derivative of the true-class output below 0.1, 0.01 and 0.5 of its maximum); NaN for a loss on raw logits
STUCK_COLUMNS = ["stuck_wrong_frac", "stuck_wrong_frac_strict", "stuck_wrong_frac_loose"]
CURVES = RUN_KEYS + CURVE_METRICS

# results/convergence/runs.parquet: one row per run
RUNS = RUN_KEYS + [
    "group", "steps", "batch_size", "target_acc", "steps_to_target",
    "final_train_loss", "final_train_acc", "final_val_acc",
    "final_grad_norm_logits", "final_mean_abs_logit", "logit_norm_growth", "final_saturated_frac",
    "final_stuck_wrong_frac", "final_logit_scale", "status", "nonfinite_step", "diverged_step",
    "device", "wall_time_s", "started_at",
    "test_acc", "test_nll", "test_brier", "test_ece",
    "temperature", "test_nll_ts", "test_brier_ts", "test_ece_ts",
]
# the final model on the test split (experiments.convergence.calibration), evaluation stage only
TEST_METRICS = ["test_acc", "test_nll", "test_brier", "test_ece"]
# the same after temperature scaling (T fitted on validation; calibration.fit_temperature), and T itself
TEMPERATURE_METRICS = ["temperature", "test_nll_ts", "test_brier_ts", "test_ece_ts"]

# results/convergence/layers.parquet: one row per run, logged step and weight layer (1 = nearest the
# input): ||dL/dW|| of that step's minibatch and the fraction of the layer's units saturated on the
# training set (NaN for the output layer, which has no activation)
# results/convergence/init_control.parquet: the depth study's step-0 ratio with each output bias
INIT_CONTROL = ["dataset", "loss", "activation", "hidden", "logit_scale", "seed", "output_bias", "grad_ratio_init",
                "mean_output_error"]
LAYERS = RUN_KEYS + ["step", "layer", "weights", "grad_norm", "saturated_frac"]   # weights: entries of W_l

# results/convergence/summary.parquet: one row per configuration (runs aggregated over seeds)
CONFIG_KEYS = [k for k in RUN_KEYS if k != "seed"]
SUMMARY = CONFIG_KEYS + [
    "seeds", "reached_frac", "steps_to_target_median", "steps_to_target_q25", "steps_to_target_q75",
    "final_val_acc_median", "final_val_acc_q25", "final_val_acc_q75", "best_lr", "best_scale",
]

# results/convergence/tuning.parquet: one row per (configuration, learning rate tried) of the tune stage
# broken_frac: the share of its tuning seeds that broke (a rate that broke on half or more is chosen last)
TUNING = CONFIG_KEYS + ["median_steps_to_target", "median_final_val_acc", "tuning_seeds", "chosen", "at_edge", "round",
                        "search_outcome", "broken_frac"]
# results/convergence/reference.parquet, reference_runs.parquet: the reference stage (cross-entropy tuned
# for final validation accuracy on the tuning seeds), as the tune stage's tables
REFERENCE = TUNING
REFERENCE_RUNS = RUNS + ["round"]

# results/convergence/targets.parquet: one row per cell (dataset, architecture, activation, optimiser) and
# target level (experiments.analysis.targets states the procedure)
TARGETS = ["dataset", "hidden", "activation", "optimizer", "level", "main", "target_acc", "reference_acc", "chance",
           "learns", "how"]

# results/convergence/levels.parquet: one row per evaluation run and target level (the main level is the
# runs table's target_acc and steps_to_target)
LEVELS = RUN_KEYS + ["level", "target_acc", "steps_to_target", "status"]

# results/convergence/predictions.parquet: one row per evaluation run; its final model's
# outputs on every test example, in the test split's order (lists): correct (0/1), confidence (the
# largest probability), nll (-log p of the true class), brier (sum_k (p_k - [k = y])^2)
# (a run that broke: correct is the constant guess's, the rest NaN: experiments.convergence.training.broken_score)
PREDICTION_LISTS = ["correct", "confidence", "nll", "brier"]
PREDICTIONS = RUN_KEYS + PREDICTION_LISTS
# results/convergence/tuning_runs.parquet: every run of the tune stage, as in runs.parquet, with its search round
TUNING_RUNS = RUNS + ["round"]

# results/convergence/profile.parquet: Dolan-More performance profile of the losses
PROFILE = ["loss", "tau", "fraction_solved", "problems", "ci_low", "ci_high"]

# results/convergence/claims.parquet: one row per headline number of the report and dataset ("all": pooled),
# numbers only (experiments.analysis.claims); the report's sentences are written from these rows
# (experiments.report.wording). subject / reference: the arms compared (e.g. two losses); null_value: the
# value of no effect (NaN: descriptive, no test); p_adjusted: Holm within the family; n: problems behind it,
# seeds: seeds per problem (at most)
# setting: the part of the pool a claim is made on, in words ("" for the whole pool); broken: the share of the
# runs behind it that broke (NaN/inf or diverged: a miss for speed, chance accuracy, and left out of a metric a
# broken model does not define, such as NLL); replicates: the bootstrap replicates where the statistic was
# defined (0: no interval); loo_low, loo_high: the estimate with one setting left out, lowest and highest (does
# the claim rest on one setting?); censored: settings where the subject's median steps sit at the budget and the
# reference's do not (their ratio is a lower bound); lower_bound: the estimate is one (it would grow were those
# ratios unbounded)
CLAIMS = ["claim", "dataset", "family", "kind", "subject", "reference", "optimizer", "metric", "estimate", "ci_low",
          "ci_high", "null_value", "n", "seeds", "test", "p_value", "p_adjusted", "setting", "broken", "replicates",
          "loo_low", "loo_high", "censored", "lower_bound"]

# results/literature.parquet: one row per published result set beside ours (experiments.analysis.literature, from its registry literature.yaml)
# band_reason: why the band; band_fixed: when it was set (before any run, or after seeing results: post hoc);
# short_reason: the verdict's reason in a few words (the report's main table)
LITERATURE = ["paper", "claim", "their_setting", "our_claim", "our_setting", "selection", "band", "estimate",
              "ci_low", "ci_high", "verdict", "reason", "band_reason", "band_fixed", "short_reason", "caveat"]

# results/overflow/probes.parquet: one row per probe
# logit_gap holds the axis value v (named in issue 2, before the other axes existed)
PROBES = [
    "implementation", "dtype", "num_classes", "logit_gap",
    "loss", "loss_finite", "grad_finite", "reference_loss", "relative_error",
    "axis", "autocast", "compute_dtype", "grad_norm", "error",
]

# results/overflow/thresholds.parquet: one row per (implementation, dtype, num_classes, axis, autocast)
THRESHOLDS = [
    "implementation", "dtype", "num_classes", "axis", "autocast", "compute_dtype", "supported",
    "measured_threshold", "predicted_threshold", "tolerance", "rule", "rule_text", "agrees", "refused_from",
]

# results/overflow/amp_training.parquet: one row per reduced-precision training run
AMP_TRAINING = [
    "dtype", "implementation", "grad_scaler", "logit_scale", "steps", "first_nonfinite_step",
    "skipped_steps", "final_train_loss", "final_val_acc", "status", "optimizer", "lr", "seed", "device",
    "loss_input_dtype", "loss_compute_dtype",
]

# results/lecture/examples.parquet: one row per worked number
EXAMPLES = ["example", "description", "stated", "computed", "decimals", "comparable", "matches", "note"]

# Columns whose values legitimately differ between two identical runs.
TIMING_COLUMNS = ["wall_time_s", "started_at"]

# Run status values, in order of precedence (an earlier one wins).
STATUSES = ["nonfinite", "diverged", "not_reached", "ok"]


def run_status(nonfinite: bool, diverged: bool, reached: bool) -> str:
    """A run's status: the first of ``STATUSES`` whose condition holds (a NaN/inf beats a divergence,
    which beats a missed target)."""
    holds = {"nonfinite": nonfinite, "diverged": diverged, "not_reached": not reached, "ok": True}
    return next(s for s in STATUSES if holds[s])
