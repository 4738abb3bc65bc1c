#!/usr/bin/env python3
"""Reference outputs of torchvision's fasterrcnn_resnet50_fpn for the C++ parity tests.

Run with Debian's interpreter: /usr/bin/python3 tools/make_torchvision_reference.py OUT_DIR
Writes into OUT_DIR (nothing is committed; the test runs this at set-up):
  model.pth      the detector's state_dict() as torchvision saves it (an OrderedDict, zip format)
  reference.pth  an OrderedDict of tensors: the raw image (0..1, [3, H, W]), the transformed and
                 padded input batch, the five FPN levels, the detections (boxes, scores, labels),
                 and RoIAlign / NMS probes.
No pretrained weights exist here, so the weights are seeded random ones, with BatchNorm statistics
and head scales changed so that frozen BatchNorm matters and the detector gives spread-out scores.
"""
import sys
from collections import OrderedDict

import torch
import torchvision
from torchvision.models.detection import fasterrcnn_resnet50_fpn


def synthetic_image(h, w, gen):
    """Grey tissue-like background with a few bright blobs, values k / 255."""
    ys = torch.arange(h, dtype=torch.float32).view(h, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, w)
    img = 0.15 + 0.05 * torch.rand(h, w, generator=gen)
    for cx, cy, r, v in [(0.3, 0.4, 0.08, 0.7), (0.7, 0.6, 0.12, 0.5), (0.5, 0.2, 0.05, 0.9)]:
        d2 = (xs - cx * w) ** 2 + (ys - cy * h) ** 2
        img = img + v * torch.exp(-d2 / (2 * (r * min(h, w)) ** 2))
    img = (img.clamp(0, 1) * 255).round() / 255
    rgb = torch.stack([img, img * 0.9, img * 0.8])
    return ((rgb * 255).round() / 255).contiguous()


def main(out_dir):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=3,
                                    min_size=320, max_size=512)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
                m.weight.uniform_(0.2, 0.6, generator=gen)
                m.bias.uniform_(-0.1, 0.1, generator=gen)
        model.rpn.head.cls_logits.weight.mul_(200)
        model.roi_heads.box_predictor.cls_score.weight.mul_(60)
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(5)
    model.eval()
    torch.save(model.state_dict(), f"{out_dir}/model.pth")

    image = synthetic_image(300, 420, gen)
    ref = OrderedDict()
    ref["image"] = image
    with torch.no_grad():
        images, _ = model.transform([image])
        ref["input"] = images.tensors.clone()
        ref["input_size"] = torch.tensor(images.image_sizes[0])
        feats = model.backbone(images.tensors)
        for i, key in enumerate(["0", "1", "2", "3", "pool"]):
            ref[f"feature{i}"] = feats[key].clone()
        det = model([image])[0]
        ref["boxes"] = det["boxes"]
        ref["scores"] = det["scores"]
        ref["labels"] = det["labels"]
    torch.save(ref, f"{out_dir}/reference.pth")
    print(f"wrote {out_dir}: {det['boxes'].shape[0]} detections, input {tuple(images.tensors.shape)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_torchvision_reference.py OUT_DIR")
    main(sys.argv[1])
