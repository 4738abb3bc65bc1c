#!/usr/bin/python3
"""Writes the small checkpoints the io layer's tests read (tests/fixtures/io/).

Run with Debian's interpreter, which has torch:  /usr/bin/python3 tools/make_io_fixtures.py

Each fixture is written by torch.save as a real PyTorch would write it; manifest.json records what
Python sees in it (every key, dtype, shape, stride, storage offset and value, which tensors share a
storage, and the JSON form of `meta`), so that the C++ reader is checked against Python itself.
The legacy files name their storages by memory address, so rerunning this changes their bytes
(not their contents); the zip files and pickles come out identical.
"""
import argparse
import collections
import datetime
import json
import os
import pickle
import sys

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "io")


class Thing:
    """An arbitrary class, as mmdetection's meta may hold (unknown to the C++ reader)."""

    def __init__(self, value):
        self.value = value
        self.name = "thing"


def torchvision_style_state_dict():
    """A module's state_dict() (an OrderedDict with _metadata) plus tensors of every layout."""
    g = torch.Generator().manual_seed(1)
    module = nn.Sequential(collections.OrderedDict([
        ("conv1", nn.Conv2d(3, 2, 3, bias=False)),
        ("bn1", nn.BatchNorm2d(2)),
        ("fc", nn.Linear(3, 2)),
    ]))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        module.bn1.running_mean.copy_(torch.randn(2, generator=g))
        module.bn1.running_var.copy_(torch.rand(2, generator=g) + 0.5)
        module.bn1.num_batches_tracked.fill_(7)  # a 0-dim int64 tensor
    sd = module.state_dict()

    # Non-contiguous, offset and shared-storage views of one float64 storage.
    base = torch.randn(10, generator=g, dtype=torch.float64)
    sd["extra.transposed"] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    sd["extra.view_a"] = base[2:6]
    sd["extra.view_b"] = base[5:].reshape(5, 1)
    sd["extra.view_c"] = base[::2]
    tied = torch.randn(2, 2, generator=g)
    sd["extra.tied_a"] = tied
    sd["extra.tied_b"] = tied
    # One tensor per dtype.
    sd["extra.half"] = (torch.randn(2, 3, generator=g) * 4).half()
    sd["extra.bf16"] = torch.tensor([1.5, -2.25, 1024.0]).bfloat16()
    sd["extra.int32"] = torch.tensor([[1, -2], [2 ** 31 - 1, -2 ** 31]], dtype=torch.int32)
    sd["extra.int16"] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    sd["extra.int8"] = torch.tensor([-128, 127, -1], dtype=torch.int8)
    sd["extra.uint8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, False, True])
    sd["extra.int64"] = torch.tensor([2 ** 40, -3], dtype=torch.int64)
    sd["extra.float64"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.scalar"] = torch.tensor(2.5)
    return sd


def mmdet_style_checkpoint():
    g = torch.Generator().manual_seed(2)
    sd = collections.OrderedDict()
    sd["backbone.conv1.weight"] = torch.randn(2, 1, 1, 1, generator=g)
    sd["backbone.bn1.num_batches_tracked"] = torch.tensor(12)
    sd["rpn_head.rpn_cls.bias"] = torch.randn(3, generator=g)
    momentum = {name: torch.randn(t.shape, generator=g) for name, t in sd.items()
                if t.is_floating_point()}
    meta = {
        "mmdet_version": "2.25.1",
        "CLASSES": ("mass",),
        "epoch": 12,
        "iter": 3600,
        "lr": [0.02],
        "seed": -5,
        "big_negative": -2 ** 40,
        "huge": 2 ** 70,
        "config": "model = dict(type='FasterRCNN')\n",
        "flags": [True, False, None],
        "nested": collections.OrderedDict([("a", {"b": [1, 2.5, "x"]})]),
        "int_keys": {1: "one", 2: "two"},
        "a_set": {3, 1},
        "blob": b"\x00\x01abc",
        "thing": Thing(3),
        "thing_class": Thing,
        "time": datetime.datetime(2020, 1, 2, 3, 4, 5),
        "array": np.arange(3),
        "unicode": "m\u00e4ss \u4e73",
    }
    optimizer = {
        "state": {0: {"momentum_buffer": momentum["backbone.conv1.weight"]},
                  1: {"momentum_buffer": momentum["rpn_head.rpn_cls.bias"]}},
        "param_groups": [{"lr": 0.02, "momentum": 0.9, "weight_decay": 1e-4, "params": [0, 1]}],
    }
    ckpt = {"meta": meta, "state_dict": sd, "optimizer": optimizer, "momentum_buffers": momentum}
    # What the C++ reader should make of meta: JSON, with placeholders for unknown objects.
    expected_meta = {k: v for k, v in meta.items()
                     if k not in ("huge", "blob", "thing", "thing_class", "time", "array")}
    expected_meta["CLASSES"] = list(meta["CLASSES"])
    expected_meta["int_keys"] = {str(k): v for k, v in meta["int_keys"].items()}
    expected_meta["a_set"] = list(meta["a_set"])
    expected_meta["huge"] = "<int 0x" + pickle.encode_long(meta["huge"])[::-1].hex() + ">"
    expected_meta["blob"] = "<bytes of length 5>"
    expected_meta["thing"] = "<__main__.Thing object>"
    expected_meta["thing_class"] = "__main__.Thing"
    expected_meta["time"] = "<datetime.datetime object>"
    expected_meta["array"] = "<numpy.core.multiarray._reconstruct object>"
    return ckpt, expected_meta


def train_script_checkpoint():
    """What torchvision's detection/classification reference scripts save."""
    g = torch.Generator().manual_seed(3)
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 2, generator=g))
        model.bias.copy_(torch.randn(2, generator=g))
    ema = collections.OrderedDict([("n_averaged", torch.tensor(4)),
                                   ("weight", nn.Parameter(torch.randn(2, 2, generator=g)))])
    return {
        "model": model.state_dict(),
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.02, "params": [0, 1]}]},
        "lr_scheduler": {"milestones": collections.Counter({8: 1, 11: 1}), "last_epoch": 3},
        "epoch": 3,
        "args": argparse.Namespace(lr=0.02, data_path="/data/coco"),
        "model_ema": ema,
    }


def plain_object():
    """A tensor-free object for the unpickler at every protocol, with its expected JSON form."""
    shared = [1, 2]
    obj = collections.OrderedDict([
        ("small", [0, 255, 256, 65535, 65536, -1, -2 ** 31, 2 ** 31 - 1, 2 ** 31, -2 ** 63]),
        ("huge", [2 ** 70, -2 ** 70 - 5, 2 ** 63, -2 ** 63 - 1]),
        ("floats", [1.5, -0.0, 1e-300, 3.141592653589793]),
        ("text", ["", "plain", "quote ' and \" and \\ and \n", "m\u00e4ss \u4e73 \U0001F600"]),
        ("consts", (None, True, False)),
        ("nested", {"a": ({"b": []},), 7: "seven"}),
        ("shared", [shared, shared]),
        ("a_set", {5}),
        ("blob", b"\xff\x00z"),
        ("thing", Thing(1)),
    ])
    expected = collections.OrderedDict(obj)
    expected["huge"] = ["<int 0x" + pickle.encode_long(v)[::-1].hex() + ">" for v in obj["huge"]]
    expected["consts"] = list(obj["consts"])
    expected["nested"] = {"a": [{"b": []}], "7": "seven"}
    expected["a_set"] = [5]
    expected["blob"] = "<bytes of length 3>"
    expected["thing"] = "<__main__.Thing object>"
    return obj, expected


def describe_state_dict(sd):
    entries = []
    for name, t in sd.items():
        values = t.detach().reshape(-1)
        if t.dtype in (torch.float16, torch.bfloat16):
            values = values.float()
        entries.append({
            "name": name,
            "dtype": str(t.dtype),
            "shape": list(t.shape),
            "stride": list(t.stride()),
            "offset": t.storage_offset(),
            "values": values.tolist(),
        })
    shares = []
    names = list(sd.keys())
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if sd[a].storage().data_ptr() == sd[b].storage().data_ptr():
                shares.append([a, b])
    return entries, shares


def save(name, obj, manifest, state_key=None, sections=(), meta=None, **save_args):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **save_args)
    sd = obj if state_key is None else obj[state_key]
    entries, shares = describe_state_dict(sd)
    manifest[name] = {
        "state_dict": entries,
        "shares": shares,
        "sections": {s: describe_state_dict(obj[s])[0] for s in sections},
        "meta": meta,
    }
    # The file must read back in Python as written.
    loaded = torch.load(path)
    assert list((loaded if state_key is None else loaded[state_key]).keys()) == list(sd.keys())


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {}
    legacy = {"_use_new_zipfile_serialization": False}

    sd = torchvision_style_state_dict()
    save("tv_state_zip.pth", sd, manifest)
    save("tv_state_legacy.pth", sd, manifest, **legacy)

    one = collections.OrderedDict([("weight", torch.tensor([[1.0, -2.0, 3.5]]))])
    save("one_entry_zip.pth", one, manifest)
    save("one_entry_legacy.pth", one, manifest, **legacy)

    ckpt, meta = mmdet_style_checkpoint()
    save("mmdet_zip.pth", ckpt, manifest, "state_dict", ["momentum_buffers"], meta)
    save("mmdet_legacy.pth", ckpt, manifest, "state_dict", ["momentum_buffers"], meta, **legacy)

    train = train_script_checkpoint()
    save("train_script_p4_zip.pth", train, manifest, "model", ["model_ema"], pickle_protocol=4)

    obj, expected = plain_object()
    for protocol in range(0, 6):
        with open(os.path.join(OUT, f"plain_p{protocol}.pkl"), "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
    manifest["plain_expected"] = expected

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(manifest) - 1} checkpoints, 6 pickles and manifest.json to {OUT} ({total} bytes)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
