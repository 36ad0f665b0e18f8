#!/usr/bin/env python3
"""Native PyTorch on the seed model, driven by bench/peers/torch.mjs (which writes the input file).

usage: python3 bench/peers/torch_peer.py INPUT.json

INPUT.json: { threads, plan: {latWarm, lat, thrWarm, thr} (bench/peers/timing.mjs), inferBatch,
trainBatch, bin: path of a float32 little-endian file, parts: [{name, offset, length, shape}] }
holding the seed model's weights in simdnet's (Keras) layout plus x8, xInfer, xTrain (NHWC) and
yTrain (one-hot). The model is rebuilt in NCHW with the same weights (conv kernels (KH,KW,C,K) ->
(K,C,KH,KW); the first dense layer's rows re-ordered from NHWC to NCHW flattening), trained with
Adam (lr 1e-3, Keras' defaults) on softmax cross-entropy. Every measurement is one JSON line on
stdout: {"key": ..., "value": ...}, timed by the same rules as timing.mjs (warm-up, then medians of
whole calls).
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def emit(key, value):
    print(json.dumps({"key": key, "value": value}), flush=True)


def warm_up(fn, calls=2, time_s=0.5, max_time=float("inf")):
    t0 = time.perf_counter()
    i = 0
    while True:
        el = time.perf_counter() - t0
        if (i >= calls and el >= time_s) or (i >= 1 and el >= max_time):
            return
        fn()
        i += 1


def time_calls(fn, reps=5, time_s=1.0, max_reps=1000, max_time=float("inf")):
    samples = []
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    while len(samples) < max_reps:
        el = time.perf_counter() - t0
        if len(samples) >= reps and el >= time_s:
            break
        if len(samples) >= 1 and el >= max_time:
            break
        s = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - s)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"median": float(np.median(samples)), "best": min(samples), "reps": len(samples), "cpu_per_wall": cpu / wall}


def opts(o):
    """timing.mjs options (calls, time, reps, maxTime) as keyword arguments."""
    return {
        k2: o[k1]
        for k1, k2 in (("calls", "calls"), ("reps", "reps"), ("time", "time_s"), ("maxTime", "max_time"))
        if k1 in o
    }


class Seed(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 5, padding=2)
        self.c2 = nn.Conv2d(32, 32, 5, padding=2)
        self.c3 = nn.Conv2d(32, 64, 3, padding=1)
        self.c4 = nn.Conv2d(64, 64, 3, padding=1)
        self.d1 = nn.Linear(3136, 128)
        self.d2 = nn.Linear(128, 10)

    def forward(self, x):  # logits
        x = F.max_pool2d(F.relu(self.c2(F.relu(self.c1(x)))), 2)
        x = F.max_pool2d(F.relu(self.c4(F.relu(self.c3(x)))), 2)
        return self.d2(F.relu(self.d1(torch.flatten(x, 1))))


def load_weights(model, ws):
    """ws: 12 arrays in simdnet order (kernel, bias per layer), Keras layout."""
    convs = [model.c1, model.c2, model.c3, model.c4]
    with torch.no_grad():
        for i, conv in enumerate(convs):
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(ws[2 * i].transpose(3, 2, 0, 1))))
            conv.bias.copy_(torch.from_numpy(ws[2 * i + 1]))
        # dense1 rows are indexed (h, w, c) by simdnet's NHWC flatten, (c, h, w) by torch's
        w1 = ws[8].reshape(7, 7, 64, 128).transpose(3, 2, 0, 1).reshape(128, 3136)
        model.d1.weight.copy_(torch.from_numpy(np.ascontiguousarray(w1)))
        model.d1.bias.copy_(torch.from_numpy(ws[9]))
        model.d2.weight.copy_(torch.from_numpy(np.ascontiguousarray(ws[10].T)))
        model.d2.bias.copy_(torch.from_numpy(ws[11]))


def nchw(x, n):
    return torch.from_numpy(np.ascontiguousarray(x[: n * 784])).reshape(n, 1, 28, 28)


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(1)
    raw = np.fromfile(cfg["bin"], dtype="<f4")
    parts = {}
    weights = []
    for p in cfg["parts"]:
        a = raw[p["offset"] : p["offset"] + p["length"]].reshape(p["shape"])
        if p["name"] == "weight":
            weights.append(a)
        else:
            parts[p["name"]] = a
    emit("info", {"version": torch.__version__, "threads": torch.get_num_threads()})
    plan = cfg["plan"]
    model = Seed()
    load_weights(model, weights)

    model.eval()
    with torch.inference_mode():
        probs = F.softmax(model(nchw(parts["x8"], 8)), dim=1)
    emit("agree", {"probs": probs.numpy().reshape(-1).tolist()})

    def infer(x):
        with torch.inference_mode():
            return F.softmax(model(x), dim=1).numpy()

    x1 = nchw(parts["x8"], 1)
    warm_up(lambda: infer(x1), **opts(plan["latWarm"]))
    t = time_calls(lambda: infer(x1), **opts(plan["lat"]))
    emit("latency", {"ms": t["median"] * 1e3, "reps": t["reps"], "cpu_per_wall": t["cpu_per_wall"]})

    B = cfg["inferBatch"]
    xb = nchw(parts["xInfer"], B)
    warm_up(lambda: infer(xb), **opts(plan["thrWarm"]))
    t = time_calls(lambda: infer(xb), **opts(plan["thr"]))
    emit("infer", {"imgPerSec": B / t["median"], "batch": B, "reps": t["reps"], "cpu_per_wall": t["cpu_per_wall"]})

    # Training on a copy, so inference above and training start from the same weights.
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    TB = cfg["trainBatch"]
    xt = nchw(parts["xTrain"], TB)
    yt = torch.from_numpy(parts["yTrain"][: TB * 10].reshape(TB, 10)).argmax(dim=1)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    warm_up(step, **opts(plan["thrWarm"]))
    t = time_calls(step, **opts(plan["thr"]))
    emit(
        "train",
        {
            "imgPerSec": TB / t["median"],
            "batch": TB,
            "reps": t["reps"],
            "median_s": t["median"],
            "cpu_per_wall": t["cpu_per_wall"],
        },
    )


if __name__ == "__main__":
    main()
