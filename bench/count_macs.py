#!/usr/bin/python3
"""Counts the multiply-accumulates of every benchmark model by forward hooks on PyTorch's own modules
(Conv2d: output elements x in-channels/groups x kernel area; Linear: output elements x in-features), per
sample, to check the closed-form counts of bench/Bench/Flops.fs (bench/README.md, "FLOPs and the machine's
limit"). Run: /usr/bin/python3 bench/count_macs.py"""
import torch
import torchvision

import torch_bench


def macs(model, shape):
    total = [0]

    def hook(mod, _inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            total[0] += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, torch.nn.Linear):
            total[0] += out.numel() * mod.in_features

    for mod in model.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            mod.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()(torch.randn(*shape))
    return total[0]


if __name__ == "__main__":
    print("mlp", macs(torch_bench.make_mlp(), (1, 10)))
    print("cnn", macs(torch_bench.make_cnn(), (1, 1, 28, 28)))
    print("fmnist", macs(torch_bench.make_fmnist_mlp(), (1, 784)))
    print("resnet18", macs(torchvision.models.resnet18(), (1, 3, 224, 224)))
    print("mobilenet_v2", macs(torchvision.models.mobilenet_v2(), (1, 3, 224, 224)))
