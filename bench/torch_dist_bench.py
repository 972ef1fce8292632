#!/usr/bin/python3
"""B7's PyTorch side: one rank of the gradient all-reduce measurement (bench/Bench/DistBench.fs starts 2).

It does per step what DistributedDataParallel's reducer does after backward for the CNN of
examples/distributed.fsx (121,930 float32 parameters, one bucket: 487,720 bytes is under DDP's first-bucket
cap of 1 MiB and its 25 MiB cap): the gradients, taken from the last parameter back, are copied into one flat
bucket, scaled by 1 / world size, all-reduced (sum) with torch.distributed over Gloo, and copied back into the
gradients. That is the work Dsl's ProcessGroup.AverageGradients does, so the two are timed on the same tensors.

The job's place comes from torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Rank 0 prints one
JSON line {"values": [ms per step, one value per rep], "bytes_per_step": ..}.

Arguments: --reps N --iters N --warm N   reps of iters timed steps (mean per rep), after warm untimed ones
           --bucket BYTES                 bucket cap (default DDP's 25 MiB)
           --timeout S                    the group's timeout
Run with /usr/bin/python3 (Debian's python3-torch 1.13, the same libtorch as Dsl's shim).
"""
import argparse
import datetime
import json
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn


def make_cnn():  # the CNN of examples/distributed.fsx
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 10))


def buckets(grads, cap):
    """Consecutive groups of gradients of at most cap bytes (a gradient larger than cap is a bucket alone)."""
    out, cur, size = [], [], 0
    for g in grads:
        b = g.numel() * g.element_size()
        if cur and size + b > cap:
            out.append(cur)
            cur, size = [], 0
        cur.append(g)
        size += b
    if cur:
        out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--bucket", type=int, default=25 << 20)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=a.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(1)
    model = make_cnn()
    g = torch.Generator().manual_seed(2 + rank)
    x = torch.randn(64, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    nn.functional.cross_entropy(model(x), y).backward()
    grads = [p.grad for p in reversed(list(model.parameters()))]
    groups = buckets(grads, a.bucket)
    sent = [0]

    @torch.no_grad()
    def step():
        total = 0
        for bucket in groups:
            flat = torch.cat([t.reshape(-1) for t in bucket]).mul_(1.0 / world)
            total += flat.numel() * flat.element_size()
            dist.all_reduce(flat)
            off = 0
            for t in bucket:
                k = t.numel()
                t.copy_(flat[off:off + k].view_as(t))
                off += k
        sent[0] = total

    for _ in range(a.warm):
        step()
    dist.barrier()
    values = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.iters):
            step()
        values.append((time.perf_counter() - t0) * 1000.0 / a.iters)
    if rank == 0:
        print(json.dumps({"values": values, "bytes_per_step": sent[0], "buckets": len(groups),
                          "bucket_bytes": a.bucket, "world_size": world, "torch": torch.__version__}), flush=True)
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
