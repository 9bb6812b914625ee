#!/usr/bin/python3
"""Exports torchvision networks to ONNX with PyTorch's own exporter, with
PyTorch's outputs as references, for goqat's import tests.

    /usr/bin/python3 scripts/make_torchvision_fixtures.py [--small DIR] [--full DIR] [--bench224 DIR]

Run from the repository root (Debian bookworm: python3-torch 1.13,
python3-torchvision 0.14). Every network gets random weights from a fixed
seed (torch.manual_seed), random BatchNorm affine parameters and running
statistics measured on random images (so that activations stay of order
one, as in a trained network), and is exported in eval mode with
torch.onnx.export at opset 13, batch 1, constant folding on (the exporter
folds each BatchNorm into its Conv).

--small (default format/onnx/testdata/torchvision, the committed fixtures):
narrow versions built from torchvision's own classes and blocks, each file
at most about 1 MB, 64x64 inputs, 10 classes:

    mobilenet_v2        torchvision mobilenet_v2(width_mult=0.25)
    mobilenet_v3_small  torchvision mobilenet_v3_small(width_mult=0.25)
    resnet18_narrow     torchvision ResNet, BasicBlock [2, 2, 2, 2], widths 8..64
    resnet50_narrow     torchvision ResNet, Bottleneck [1, 1, 1, 1], widths 8..64 (x4)
    squeezenet1_1_narrow torchvision SqueezeNet 1_1 with its Fire modules at 1/4 width
    shufflenet_v2_narrow torchvision ShuffleNetV2, repeats [4, 8, 4], channels [8, 16, 32, 64, 128]
    shufflenet_v2_stride2 the same with repeats [1, 1, 1]: only the stride-2
                        blocks (channel shuffle after a Concat, no channel split)
    googlenet_narrow    torchvision GoogLeNet with every Inception at 1/8 width

--full DIR (not committed: resnet18 and resnet50 alone are 45 and 100 MB):
torchvision's resnet18, resnet50, mobilenet_v2, mobilenet_v3_small,
squeezenet1_1, shufflenet_v2_x0_5 and googlenet at their standard widths,
1000 classes, 64x64 inputs. The Go test reads them from
GOQAT_TORCHVISION_DIR.

--bench224 DIR (not committed; scripts/bench_ort.sh writes them to its
cache): torchvision's mobilenet_v2, resnet18 and resnet50 at their standard
widths, 1000 classes, 224x224 inputs, exported with a dynamic batch
dimension (dynamic_axes on the input and the output) so that ONNX Runtime
runs them at any batch size. Their files are named as above, with
(2, 3, 224, 224) reference inputs; bench_ort.sh checks them with
GOQAT_TORCHVISION_DIR=DIR go test -run 'TestTorchvisionONNXRuntime/full/NAME'
(only these three of the full-width networks are in DIR).

For each network NAME the script writes NAME.onnx, NAME.input.f32 (two
random N(0, 1) images, (2, 3, 64, 64) NCHW, raw little-endian float32) and
NAME.output.f32 (PyTorch's eval-mode output for them, (2, classes)). The
files are reproducible: the same seed gives the same bytes. The Go tests
(format/onnx/torchvision_test.go) compare goqat's outputs, and ONNX
Runtime's when node and onnxruntime-node are installed, with them, and
format/onnx/torchvision_pipeline_test.go quantizes, converts and exports
every network that imports; they need neither python nor torch.
"""
import argparse
import os
import sys

import torch
import torchvision
from torch import nn
tv_googlenet = sys.modules["torchvision.models.googlenet"]  # the module, not the function
tv_resnet = sys.modules["torchvision.models.resnet"]
tv_shufflenet = sys.modules["torchvision.models.shufflenetv2"]
tv_squeezenet = sys.modules["torchvision.models.squeezenet"]

SIZE = 64  # input height and width
IMAGES = 2  # reference images per network


def narrow_resnet(block, layers, width):
    """torchvision's ResNet (its forward and _make_layer) with stage widths
    width, 2*width, 4*width, 8*width instead of 64..512."""
    m = tv_resnet.ResNet(block, layers, num_classes=10)
    m.inplanes = width
    m.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(width)
    m.layer1 = m._make_layer(block, width, layers[0])
    m.layer2 = m._make_layer(block, 2 * width, layers[1], stride=2)
    m.layer3 = m._make_layer(block, 4 * width, layers[2], stride=2)
    m.layer4 = m._make_layer(block, 8 * width, layers[3], stride=2)
    m.fc = nn.Linear(8 * width * block.expansion, 10)
    return m


def narrow_squeezenet():
    """torchvision's SqueezeNet 1_1 layout with its Fire modules at 1/4 of
    their widths (and a 10-class classifier)."""
    m = tv_squeezenet.SqueezeNet(version="1_1", num_classes=10)
    Fire = tv_squeezenet.Fire
    m.features = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, stride=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(16, 4, 16, 16),
        Fire(32, 4, 16, 16),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(32, 8, 32, 32),
        Fire(64, 8, 32, 32),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(64, 12, 48, 48),
        Fire(96, 12, 48, 48),
        Fire(96, 16, 64, 64),
        Fire(128, 16, 64, 64),
    )
    m.classifier[1] = nn.Conv2d(128, 10, kernel_size=1)
    return m


def narrow_googlenet():
    """torchvision's GoogLeNet (no auxiliary classifiers) with every
    convolution at 1/8 of its width."""
    m = tv_googlenet.GoogLeNet(num_classes=10, aux_logits=False, transform_input=False, init_weights=True)
    Conv, Inc = tv_googlenet.BasicConv2d, tv_googlenet.Inception
    m.conv1 = Conv(3, 8, kernel_size=7, stride=2, padding=3)
    m.conv2 = Conv(8, 8, kernel_size=1)
    m.conv3 = Conv(8, 24, kernel_size=3, padding=1)
    m.inception3a = Inc(24, 8, 12, 16, 2, 4, 4)  # 32
    m.inception3b = Inc(32, 16, 16, 24, 4, 12, 8)  # 60
    m.inception4a = Inc(60, 24, 12, 26, 2, 6, 8)  # 64
    m.inception4b = Inc(64, 20, 14, 28, 3, 8, 8)  # 64
    m.inception4c = Inc(64, 16, 16, 32, 3, 8, 8)  # 64
    m.inception4d = Inc(64, 14, 18, 36, 4, 8, 8)  # 66
    m.inception4e = Inc(66, 32, 20, 40, 4, 16, 16)  # 104
    m.inception5a = Inc(104, 32, 20, 40, 4, 16, 16)  # 104
    m.inception5b = Inc(104, 48, 24, 48, 6, 16, 16)  # 128
    m.fc = nn.Linear(128, 10)
    return m


SMALL = {
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(width_mult=0.25, num_classes=10),
    "resnet18_narrow": lambda: narrow_resnet(tv_resnet.BasicBlock, [2, 2, 2, 2], 8),
    "resnet50_narrow": lambda: narrow_resnet(tv_resnet.Bottleneck, [1, 1, 1, 1], 8),
    "squeezenet1_1_narrow": narrow_squeezenet,
    "shufflenet_v2_narrow": lambda: tv_shufflenet.ShuffleNetV2([4, 8, 4], [8, 16, 32, 64, 128], num_classes=10),
    "shufflenet_v2_stride2": lambda: tv_shufflenet.ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 128], num_classes=10),
    "googlenet_narrow": narrow_googlenet,
}

FULL = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "shufflenet_v2_x0_5": lambda: torchvision.models.shufflenet_v2_x0_5(),
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True),
}


BENCH224 = ("mobilenet_v2", "resnet18", "resnet50")  # FULL networks of --bench224


def randomize_batchnorm(m, gen, size=SIZE):
    """Random BatchNorm scales and shifts, then running statistics measured
    on random images (cumulative average), so that every layer's
    activations are normalized as in a trained network."""
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    with torch.no_grad():
        for b in bns:
            b.weight.copy_(0.5 + torch.rand(b.weight.shape, generator=gen))
            b.bias.copy_(0.2 * torch.randn(b.bias.shape, generator=gen))
            b.reset_running_stats()
            b.momentum = None
        m.train()
        for _ in range(4):
            m(torch.randn(8, 3, size, size, generator=gen))
    m.eval()


def make(name, build, seed, out, size=SIZE, dynamic_batch=False):
    """Writes NAME.onnx, NAME.input.f32 and NAME.output.f32 for size x size
    inputs; dynamic_batch exports the batch dimension as a symbol."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    m = build()
    randomize_batchnorm(m, gen, size)
    x = torch.randn(IMAGES, 3, size, size, generator=gen)
    with torch.no_grad():
        y = m(x)
    path = os.path.join(out, name + ".onnx")
    dyn = {"input": {0: "N"}, "logits": {0: "N"}} if dynamic_batch else None
    torch.onnx.export(m, x[:1], path, opset_version=13, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"], dynamic_axes=dyn)
    x.numpy().astype("<f4").tofile(os.path.join(out, name + ".input.f32"))
    y.numpy().astype("<f4").tofile(os.path.join(out, name + ".output.f32"))
    params = sum(p.numel() for p in m.parameters())
    print(f"{path}: {params} parameters, {os.path.getsize(path)} bytes, output {tuple(y.shape)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", default="format/onnx/testdata/torchvision",
                    help="folder of the committed narrow fixtures ('' to skip them)")
    ap.add_argument("--full", default="", help="folder for the full-width networks (not committed)")
    ap.add_argument("--bench224", default="",
                    help="folder for mobilenet_v2, resnet18, resnet50 at 224x224, dynamic batch (not committed)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    for out, nets in ((args.small, SMALL), (args.full, FULL)):
        if not out:
            continue
        os.makedirs(out, exist_ok=True)
        for i, (name, build) in enumerate(nets.items()):
            make(name, build, 20261201 + i, out)
    if args.bench224:
        os.makedirs(args.bench224, exist_ok=True)
        for i, (name, build) in enumerate(FULL.items()):
            if name in BENCH224:
                make(name, build, 20261201 + i, args.bench224, size=224, dynamic_batch=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
