"""Column names of every results table, defined once.

Later capabilities add columns; none of these is ever renamed.
"""

# results/convergence/runs.parquet: one row per run
RUN_KEYS = ["dataset", "loss", "activation", "logit_scale", "lr", "seed"]
RUNS = RUN_KEYS + [
    "group", "hidden", "steps", "batch_size", "target_acc", "steps_to_target",
    "final_train_loss", "final_train_acc", "final_val_acc",
    "status", "nonfinite_step", "diverged_step", "device", "wall_time_s", "started_at",
]
# results/convergence/curves.parquet: one row per run and logged step
CURVES = RUN_KEYS + ["step", "train_loss", "train_acc", "val_acc", "grad_norm_logits"]

# results/overflow/probes.parquet: one row per probe
PROBES = [
    "implementation", "dtype", "num_classes", "logit_gap",
    "loss", "loss_finite", "grad_finite", "reference_loss", "relative_error",
]

# results/lecture/examples.parquet: one row per worked number
EXAMPLES = ["example", "description", "stated", "computed", "decimals", "comparable", "matches", "note"]

# Columns whose values legitimately differ between two identical runs.
TIMING_COLUMNS = ["wall_time_s", "started_at", "finished_at"]

# Run status values, in order of precedence (a later one never overrides an earlier).
STATUSES = ["nonfinite", "diverged", "not_reached", "ok"]
