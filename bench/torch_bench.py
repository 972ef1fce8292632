#!/usr/bin/python3
"""The PyTorch side of Dsl's benchmark: the same work as bench/Bench (Dsl) and bench/cpp (libtorch C++),
written the way a PyTorch user writes it (nn.Sequential, torch.optim.Adam, DataLoader over a TensorDataset,
torchvision.models for B8/B9).

Protocol (shared by the three sides): the harness starts this script once and keeps it alive. It prints one
JSON line {"ready": ...} when initialised, then answers each request line
    <bench> <reps> <iters> <warm>
with one JSON line {"bench": .., "unit": .., "values": [one value per rep]} (or {"bench": .., "error": ..}).
A value is the mean over <iters> iterations of one rep, after <warm> untimed iterations.
"quit" (or end of input) exits. Diagnostics go to stderr only.

Arguments: --threads N   intra-op threads (torch.set_num_threads); omitted = PyTorch's default
           --data DIR    folder with the raw (decompressed) Fashion-MNIST IDX files (for B4)
Run with /usr/bin/python3 (Debian's python3-torch 1.13, the same libtorch as Dsl's shim).
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
import torchvision


def make_mlp(width=256):  # B2: 10 -> 256 -> 256 -> 1 (S2: other widths)
    return nn.Sequential(nn.Linear(10, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))


def make_cnn():  # B3
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def make_fmnist_mlp():  # B4: 784 -> 256 -> 10
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class StepBench:
    """A fixed-batch training step (B2, B3): zero grads (set to None, as Dsl and PyTorch 2 do), forward,
    loss, backward, Adam step."""

    def __init__(self, model, x, y, loss):
        self.model, self.x, self.y, self.loss = model, x, y, loss
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()


class ZooStep:
    """B8: one SGD step (lr 0.01, momentum 0.9) of a torchvision model on a fixed batch of 224x224 images,
    cross-entropy over 1000 classes."""

    def __init__(self, model, batch):
        torch.manual_seed(0)
        self.model = model.train()
        self.x = torch.randn(batch, 3, 224, 224)
        self.y = torch.randint(0, 1000, (batch,))
        self.opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    rank = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def status_mb(field):
    """VmRSS or VmHWM (the peak resident set) of this process in MB (Linux /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise ValueError(f"/proc/self/status has no {field}")


def loader_rss(n):
    """S4 (in a fresh process): n Fashion-MNIST-shaped samples (float32 [n, 1, 28, 28] in [0, 1], int64 labels)
    made in memory, then one shuffled epoch of batches of 128 through a DataLoader over a TensorDataset, every
    batch's inputs read (summed). The value is the process's peak RSS (VmHWM) in MB."""
    before = status_mb("VmRSS")
    torch.manual_seed(0)
    x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    with_data = status_mb("VmRSS")
    t0 = time.perf_counter()
    samples, total = 0, 0.0
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=128, shuffle=True):
        total += xb.sum().item()
        samples += len(yb)
    epoch = time.perf_counter() - t0
    if samples != n:
        raise RuntimeError(f"S4: the loader gave {samples} samples of {n}")
    return {"bench": f"S4:{n}", "unit": "MB", "values": [status_mb("VmHWM")], "rss_before_data_mb": before,
            "rss_with_data_mb": with_data, "epoch_s": epoch, "checksum": total}


def fmnist_epoch(model, dataset, batch):
    """One epoch through PyTorch's own loader: a shuffling DataLoader over a TensorDataset."""
    loader = DataLoader(dataset, batch_size=batch, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    running, n = 0.0, 0
    for xb, yb in loader:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        running += loss.item() * len(yb)  # as Dsl's fit: the epoch's mean loss
        n += len(yb)
    return running / n


class Worker:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.b2 = self.b3 = self.fmnist = self.b4_model = None
        self.b8r = self.b8m = self.b9 = None
        self.scaling = None  # (request name, StepBench) of the scaling point being measured (S1, S2)

    @staticmethod
    def measure(reps, iters, warm, scale, body):
        for _ in range(warm):
            body()
        values = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(iters):
                body()
            values.append((time.perf_counter() - t0) * scale / iters)
        return values

    def scaling_step(self, name, make):
        """The scaling point `name` (made once; the previous point is dropped when another is requested)."""
        if self.scaling is None or self.scaling[0] != name:
            self.scaling = None
            torch.manual_seed(0)
            self.scaling = (name, make())
        return self.scaling[1]

    def run(self, bench, reps, iters, warm):
        series, _, point = bench.partition(":")
        if point:  # the scaling series (bench/Bench/Scaling.fs): S1:<batch>, S2:<width>, S4:<samples>
            n = int(point)
            if series == "S1":
                step = self.scaling_step(bench, lambda: StepBench(make_cnn(), torch.randn(n, 1, 28, 28),
                                                                  torch.randint(0, 10, (n,)), nn.CrossEntropyLoss()))
                return "ms", self.measure(reps, iters, warm, 1e3, step.step)
            if series == "S2":
                step = self.scaling_step(bench, lambda: StepBench(make_mlp(n), torch.randn(256, 10),
                                                                  torch.randint(0, 2, (256, 1)).float(), nn.BCEWithLogitsLoss()))
                return "ms", self.measure(reps, iters, warm, 1e3, step.step)
            if series == "S4":
                return loader_rss(n)
        if bench == "B1":
            # The loop is written out (no function call per op), so Python pays only for `a + b` itself.
            a, b = torch.ones(1), torch.ones(1)
            for _ in range(warm):
                c = a + b
            values = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(iters):
                    c = a + b  # noqa: F841 (the op under test; the previous result is freed here)
                values.append((time.perf_counter() - t0) * 1e6 / iters)
            return "us", values
        if bench == "B2":
            if self.b2 is None:
                torch.manual_seed(0)
                x = torch.randn(256, 10)
                y = torch.randint(0, 2, (256, 1)).float()
                self.b2 = StepBench(make_mlp(), x, y, nn.BCEWithLogitsLoss())
            return "ms", self.measure(reps, iters, warm, 1e3, self.b2.step)
        if bench == "B3":
            if self.b3 is None:
                torch.manual_seed(0)
                x = torch.randn(128, 1, 28, 28)
                y = torch.randint(0, 10, (128,))
                self.b3 = StepBench(make_cnn(), x, y, nn.CrossEntropyLoss())
            return "ms", self.measure(reps, iters, warm, 1e3, self.b3.step)
        if bench == "B4":
            if self.fmnist is None:
                images = read_idx(f"{self.data_dir}/train-images-idx3-ubyte")
                labels = read_idx(f"{self.data_dir}/train-labels-idx1-ubyte")
                x = torch.from_numpy(images.copy()).float().div_(255.0).reshape(-1, 784)
                y = torch.from_numpy(labels.copy()).long()
                self.fmnist = TensorDataset(x, y)
                torch.manual_seed(0)
                self.b4_model = make_fmnist_mlp()
            return "s", self.measure(reps, iters, warm, 1.0, lambda: fmnist_epoch(self.b4_model, self.fmnist, 128))
        if bench == "B8R":
            if self.b8r is None:
                torch.manual_seed(0)
                self.b8r = ZooStep(torchvision.models.resnet18(), 8)
            return "ms", self.measure(reps, iters, warm, 1e3, self.b8r.step)
        if bench == "B8M":
            if self.b8m is None:
                torch.manual_seed(0)
                self.b8m = ZooStep(torchvision.models.mobilenet_v2(), 16)
            return "ms", self.measure(reps, iters, warm, 1e3, self.b8m.step)
        if bench == "B9":
            if self.b9 is None:
                torch.manual_seed(0)
                self.b9 = torchvision.models.resnet18().eval(), torch.randn(64, 3, 224, 224)
            model, x = self.b9

            def infer():
                with torch.no_grad():
                    model(x)
            return "ms", self.measure(reps, iters, warm, 1e3, infer)
        raise ValueError(f"unknown benchmark {bench}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data", default="")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    w = Worker(args.data)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "side": "torch_py", "threads": torch.get_num_threads(), "torch": torch.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        bench = parts[0]
        reps, iters, warm = (int(v) for v in (parts[1:4] + ["1", "1", "0"][len(parts) - 1:])[:3])
        try:
            answer = w.run(bench, reps, iters, warm)
            reply = answer if isinstance(answer, dict) else {"bench": bench, "unit": answer[0], "values": answer[1]}
        except Exception as e:  # reported to the harness, which shows it and carries on
            reply = {"bench": bench, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
