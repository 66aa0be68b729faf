"""A training job of the workflow (the reference, tune and evaluate stages): what each does first, from
Snakemake's ``snakemake`` object, and how it trains a group."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import execution_settings
from ..sweep import Group
from .data import load_dataset
from .training import GroupTables, group_plan, start_job, train_group


@dataclass
class Job:
    cfg: dict                  # what training reads of the config: the seed and the data settings
    device: torch.device
    env: dict                  # where the job runs and its plan: written to <group>.job.json
    run: dict                  # execution settings (experiments.config.execution_settings): not params
    checkpoint_dir: str

    def train(self, group: Group, checkpoint: str = "", **kw) -> GroupTables:
        """``train_group`` on this job's device, its finished chunks checkpointed under ``checkpoint``."""
        where = f"{self.checkpoint_dir}/{checkpoint}" if checkpoint else self.checkpoint_dir
        return train_group(group, self.cfg, self.device, self.run["max_stack"], checkpoint_dir=where,
                           cuda_graphs=self.run["cuda_graphs"], log=print, **kw)


def open_job(smk, group: Group, checks: bool = True) -> Job:
    """Set torch's threads and matmul precision, resolve the device and plan ``group`` as it will be
    trained (chunks, evaluation blocks, target checks; ``checks`` false where the stage has no targets)."""
    run = execution_settings(smk.config)
    cfg = {"seed": smk.params.seed, "data": {**smk.params.data, "root": run["data_root"]}}
    device, env = start_job(run["device"], smk.threads, run["matmul_precision"])
    env["cuda_graphs"] = run["cuda_graphs"] and device.type == "cuda"
    env["plan"] = group_plan(group, load_dataset(group.dataset, cfg), device, run["max_stack"], checks=checks)
    return Job(cfg, device, env, run, smk.params.checkpoint_dir)
