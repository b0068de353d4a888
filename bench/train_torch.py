"""PyTorch CPU side of `bench/train.bench.ts`: mobile-s (issue 2, section 3) trained with Adam
on random data, printing one JSON line like `fedkd bench train --json`.

Usage: python3 train_torch.py SIZE BATCH THREADS SECONDS
"""
import json
import resource
import sys
import time

import torch
from torch import nn

BLOCKS = [(32, 2), (64, 2), (64, 1), (128, 2), (128, 1)]


def conv_bn_relu(cin, cout, k, s, groups=1):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def mobile_s(channels=1, classes=2):
    layers = conv_bn_relu(channels, 16, 3, 2)
    c = 16
    for cout, s in BLOCKS:
        layers += conv_bn_relu(c, c, 3, s, groups=c) + conv_bn_relu(c, cout, 1, 1)
        c = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


def main():
    size, batch, threads, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = mobile_s()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 2, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    steps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while steps < 5 or time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({
        "arch": "mobile-s", "size": size, "batch": batch, "backend": f"pytorch-cpu-{threads}threads",
        "imagesPerSecond": round(steps * batch / wall, 1), "cpuSecondsPerImage": cpu / (steps * batch),
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "params": params,
    }))


if __name__ == "__main__":
    main()
