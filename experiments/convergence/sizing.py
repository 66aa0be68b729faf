"""How much work goes on a device at once: runs per stacked model (a *chunk*) and examples per
evaluation block.

Both come from the device's *total* memory and the shapes, never from the memory free at the moment
(the caching allocator moves that from call to call), so a rerun and a resumed job make the same chunks,
run the same kernels and find the same checkpoints. A job records them in its ``job.json``
(:func:`group_plan`).

Per run of a chunk, float32 (P parameters, B minibatch, h = sum_l (n_l + 1) the stacked widths,
C classes, D inputs, N_val and N_test the validation and test splits)::

    weights, gradients, Adam's m, v and update, W^T copies   ~ 6 P
    at a target check, a copy of the waiting runs' weights    ~ P     (``StackedMLP.subset``)
    a minibatch's pre-activations, [h; 1], dh, da              ~ 4 B h
    its inputs gathered per run, and the step's fixed copy     ~ 2 B (D + 1)
    the step's loss and logit-gradient temporaries             ~ 4 B C
    the test stage: validation logits for the temperature fit ~ 3 N_val C
    (and their copies), each test example's outputs            ~ 6 N_test

and once per chunk the datasets on the device (``data_bytes``: [x; 1] of every split, with the
training metrics' copy) and the evaluation block (below).

Evaluation streams its examples in blocks, whatever the split's size. One block holds, per run and
example, float32 (:func:`block_floats`; each term checked against what ``StackedMLP.evaluate`` allocates
on the CPU, ``tests/test_sizing.py``)::

    activations: each layer's pre-activation and each hidden layer's [h; 1]   sum_l n_l + sum_hidden (n_l + 1)
    the saturation scratch (sigmoid, tanh; kept from block to block)          max_hidden n_l
    the worst phase on the logits, one at a time: argmax's z + mask           5 C + 7
    (engine.correct), the loss and its gradient's temporaries (up to 5 C:
    mse_softmax), the stuck test's q and masks, the calibration sums; with
    the (K, n) vectors and masks beside them

within ``eval_block_bytes``:

    CPU:  16 MiB   (GEMMs whose output stays in cache: 130 vs 80 GFLOP/s at 8 vs 28 MB, one thread)
    CUDA: total / 32, clipped to [256 MiB, 2 GiB]   (a block of 1-4 examples, as 16 MiB gives at
          cluster shapes, re-reads all first-layer weights per block: 119 s for one 256-run group on
          an H200, 6.5 s with a 1 GiB block; issue 23)

On CUDA a chunk takes what half the memory holds after two evaluation blocks (its own and, at a target
check that evaluates only the runs still waiting, theirs: a stack of its own), and no more runs than
leave ``MIN_EVAL_EXAMPLES`` examples per block (fewer make the evaluation GEMMs memory-bound).
"""

from __future__ import annotations

import torch

CPU_STACK = 128     # runs per stacked model on a CPU: the fastest of 32..512 in benchmarks/throughput.py
                    # --stack-sizes (71 us per run-step at 128; 79 at 64, 74 at 256, 77 at 512; one thread)
CPU_EVAL_BLOCK_BYTES = 16 << 20
CUDA_EVAL_BLOCK_BYTES = (256 << 20, 2 << 30)   # (least, most): total memory / 32 between them
MIN_EVAL_EXAMPLES = 256   # a CUDA chunk leaves room for this many examples per evaluation block
MAX_STACK = 8192
# An evaluation block's worst phase on its logits, per run and example: at most 5 C + 7 floats (the
# most, 5 C + 2.3, is mse_softmax's loss and gradient; the calibration sums take 3 C + 6.6, argmax 1.2 C
# + 3; measured on the CPU at C = 4, 10, 40: tests/test_sizing.py)
LOGIT_FLOATS = (5, 7)


def device_memory(device: torch.device | str) -> int | None:
    """Total bytes of a CUDA ``device``; None for a CPU (host memory does not size the chunks)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return int(torch.cuda.get_device_properties(device).total_memory)


def eval_block_bytes(total_memory: int | None) -> int:
    """Bytes of one evaluation block's activations, all runs of the chunk (see the module docstring);
    ``total_memory`` None means a CPU."""
    if total_memory is None:
        return CPU_EVAL_BLOCK_BYTES
    least, most = CUDA_EVAL_BLOCK_BYTES
    return int(min(most, max(least, total_memory // 32)))


def stacked_width(sizes: list[int]) -> int:
    """h = sum over layers of (n_l + 1): the rows of every activation buffer of one run, ones rows in."""
    return sum(n + 1 for n in sizes[1:])


def block_floats(sizes: list[int]) -> dict[str, int]:
    """Floats one evaluation block holds per run and example, by buffer (see the module docstring): the
    activation buffers, the saturation scratch and the worst phase on the logits (``LOGIT_FLOATS``)."""
    hidden, per_class, extra = sizes[1:-1], *LOGIT_FLOATS
    return {"activations": sum(sizes[1:]) + sum(n + 1 for n in hidden), "saturation": max(hidden, default=0),
            "logits": per_class * sizes[-1] + extra}


def example_bytes(sizes: list[int]) -> int:
    """Bytes of one example of one run in an evaluation block (float32): the sum of :func:`block_floats`."""
    return 4 * sum(block_floats(sizes).values())


def examples_per_block(block_bytes: int, runs: int, sizes: list[int]) -> int:
    """Examples in one evaluation block: ``runs`` runs' :func:`example_bytes` within ``block_bytes``; at
    least 1."""
    return max(1, block_bytes // (runs * example_bytes(sizes)))


def run_bytes(sizes: list[int], batch_size: int, n_val: int = 0, n_test: int = 0) -> int:
    """Device bytes one run of a chunk needs while it trains and is tested (see the module docstring)."""
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    B, C = batch_size, sizes[-1]
    return 4 * (7 * n_params + 4 * B * stacked_width(sizes) + 2 * B * (sizes[0] + 1) + 4 * B * C
                + 3 * n_val * C + 6 * n_test)


def stack_chunk_size(max_stack: int | str, sizes: list[int], batch_size: int, total_memory: int | None,
                     n_val: int = 0, n_test: int = 0, data_bytes: int = 0) -> int:
    """Runs trained as one stacked model. An integer ``max_stack`` is used as is; ``auto``: ``CPU_STACK``
    on a CPU (``total_memory`` None); on CUDA, as many as half the memory holds after the data and two
    evaluation blocks, at most as many as leave ``MIN_EVAL_EXAMPLES`` examples per block, at most
    ``MAX_STACK``."""
    if max_stack != "auto":
        return int(max_stack)
    if total_memory is None:
        return CPU_STACK
    block = eval_block_bytes(total_memory)
    by_memory = (total_memory // 2 - 2 * block - data_bytes) // run_bytes(sizes, batch_size, n_val, n_test)
    by_block = block // (example_bytes(sizes) * MIN_EVAL_EXAMPLES)
    return int(max(1, min(MAX_STACK, by_memory, by_block)))
