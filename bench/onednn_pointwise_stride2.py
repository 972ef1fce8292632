"""oneDNN 2.6 (Debian's libtorch / python3-torch 1.13.1) corrupts the heap when it computes the weight gradient
of a 1x1 convolution with stride 2 in channels-last layout on more than one thread. Reproduction, in PyTorch
alone, for each kernel size and stride, NCHW and channels-last: glibc's malloc checks (MALLOC_CHECK_=3) abort the
process ("corrupted double-linked list", "free(): invalid next size") only for kernel 1, stride 2, channels-last.
The Dsl's shim therefore runs 1x1 strided convolutions on the CPU in NCHW (native/nn.cpp, pointwise_strided_cpu).

    /usr/bin/python3 bench/onednn_pointwise_stride2.py        (runs every case in a child process, prints a table)
"""
import os
import subprocess
import sys


def case(kernel, stride, layout):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(2)
    fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    for batch, channels, size, out in [(5, 3, 16, 4), (2, 3, 8, 16), (7, 5, 14, 4), (4, 8, 12, 8)]:
        for _ in range(20):
            x = torch.randn(batch, channels, size, size).contiguous(memory_format=fmt).requires_grad_()
            w = torch.randn(out, channels, kernel, kernel).contiguous(memory_format=fmt).requires_grad_()
            y = F.conv2d(x, w, None, stride=stride)
            torch.autograd.grad(y, [w], torch.ones_like(y))


if __name__ == "__main__":
    if len(sys.argv) == 4:
        case(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    env = dict(os.environ, MALLOC_CHECK_="3")
    print("kernel stride layout         3 runs")
    for kernel in (1, 2, 3):
        for stride in (1, 2, 3):
            for layout in ("nchw", "channels-last"):
                runs = []
                for _ in range(3):
                    p = subprocess.run([sys.executable, __file__, str(kernel), str(stride), layout], env=env, capture_output=True, text=True)
                    runs.append("ok" if p.returncode == 0 else "ABORT(%s)" % (p.stderr.strip().splitlines() or ["signal %d" % -p.returncode])[-1][:28])
                print("%6d %6d %-14s %s" % (kernel, stride, layout, "  ".join(runs)))
