"""The "Learning to See in the Dark" U-Net (Chen, Chen, Xu, Koltun, CVPR 2018), as published.

One readable file and a config dataclass, nanoGPT-style. The layers and their
names follow the authors' TensorFlow code (``train_Sony.py``), so their weights,
once converted, load by name with ``strict=True``:

    conv1_1, conv1_2 (32)  -> max-pool 2x2
    conv2_1, conv2_2 (64)  -> max-pool
    conv3_1, conv3_2 (128) -> max-pool
    conv4_1, conv4_2 (256) -> max-pool
    conv5_1, conv5_2 (512)
    up6 (2x2 stride-2 transposed conv 512->256, no bias) ++ conv4 -> conv6_1, conv6_2 (256)
    up7 (256->128) ++ conv3 -> conv7_1, conv7_2 (128)
    up8 (128->64)  ++ conv2 -> conv8_1, conv8_2 (64)
    up9 (64->32)   ++ conv1 -> conv9_1, conv9_2 (32)
    conv10 (1x1, 12, no activation) -> depth_to_space(2) -> 3 channels at twice the input size

Every 3x3 convolution has a bias and is followed by lrelu(x) = max(0.2 x, x).
``width`` scales every channel count (32 in the paper), so a smaller model of
the same family is one config away.

Parameter count with the defaults: 7,760,268. (A figure of 7,760,748 that
circulates counts a bias on each transposed convolution: 256+128+64+32 = 480
more. The authors' deconvolutions are a bare ``tf.Variable`` filter given to
``tf.nn.conv2d_transpose``; they have no bias, and neither does this model.)

Converting the authors' TF checkpoint (see ``worker.models.checkpoint.convert_tf_variables``):

    g_conv1_1/weights [kh, kw, in, out] (HWIO) -> conv1_1.weight [out, in, kh, kw]: transpose (3, 2, 0, 1)
    g_conv1_1/biases  [out]                    -> conv1_1.bias   [out]
    ... likewise g_conv1_2 ... g_conv9_2 and g_conv10.
    The four deconvolution filters are unnamed ``tf.Variable`` objects, so TF
    calls them ``Variable``, ``Variable_1``, ``Variable_2``, ``Variable_3`` in
    creation order: up6, up7, up8, up9. A conv2d_transpose filter is
    [kh, kw, out, in]; nn.ConvTranspose2d's weight is [in, out, kh, kw]:
    transpose (3, 2, 0, 1) as well. Both are the adjoint of the same
    cross-correlation, so no kernel flip is needed.

TF's ``depth_to_space`` (NHWC, "DCR" order) reads output pixel (h*bs+dy, w*bs+dx),
channel k, from input channel c = (dy*bs + dx) * C_out + k. PyTorch's
``pixel_shuffle`` uses c = k*bs*bs + dy*bs + dx instead, so it would scramble a
converted conv10. ``depth_to_space`` below implements TF's order.

The network needs sides divisible by 16 (four 2x poolings); other sizes are
reflect-padded at the bottom and right and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

from worker.models.config import SIDConfig

DOWNSAMPLING = 16  # four 2x2 max-pools
__all__ = ["SID", "SIDConfig", "depth_to_space", "pad_to_multiple", "space_to_depth"]


def lrelu(x: Tensor) -> Tensor:
    """The authors' leaky ReLU, max(0.2 x, x); in place at inference, which saves a full-size copy per layer."""
    return functional.leaky_relu(x, 0.2, inplace=not torch.is_grad_enabled())


def depth_to_space(x: Tensor, block_size: int) -> Tensor:
    """TF's depth_to_space on NCHW: channel (dy*bs + dx)*C + k -> pixel (dy, dx) of channel k."""
    n, c, h, w = x.shape
    out = c // (block_size * block_size)
    x = x.reshape(n, block_size, block_size, out, h, w)  # (n, dy, dx, k, h, w)
    x = x.permute(0, 3, 4, 1, 5, 2)  # (n, k, h, dy, w, dx)
    return x.reshape(n, out, h * block_size, w * block_size)


def space_to_depth(x: Tensor, block_size: int) -> Tensor:
    """The inverse of ``depth_to_space``: TF's space_to_depth on NCHW."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // block_size, block_size, w // block_size, block_size)  # (n, k, h, dy, w, dx)
    x = x.permute(0, 3, 5, 1, 2, 4)  # (n, dy, dx, k, h, w)
    return x.reshape(n, c * block_size * block_size, h // block_size, w // block_size)


def pad_to_multiple(x: Tensor, multiple: int = DOWNSAMPLING) -> Tensor:
    """Pad bottom and right up to a multiple: reflect where the image is big enough, else replicate."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class SID(nn.Module):
    def __init__(self, config: SIDConfig = SIDConfig()) -> None:
        super().__init__()
        self.config = config
        w = config.width

        def conv(name: str, cin: int, cout: int) -> None:
            self.add_module(name, nn.Conv2d(cin, cout, 3, padding=1))

        def up(name: str, cin: int, cout: int) -> None:
            self.add_module(name, nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False))

        # Registration order is the published order, so state_dict() lists the layers as the paper draws them.
        conv("conv1_1", config.in_channels, w)
        conv("conv1_2", w, w)
        conv("conv2_1", w, 2 * w)
        conv("conv2_2", 2 * w, 2 * w)
        conv("conv3_1", 2 * w, 4 * w)
        conv("conv3_2", 4 * w, 4 * w)
        conv("conv4_1", 4 * w, 8 * w)
        conv("conv4_2", 8 * w, 8 * w)
        conv("conv5_1", 8 * w, 16 * w)
        conv("conv5_2", 16 * w, 16 * w)
        up("up6", 16 * w, 8 * w)
        conv("conv6_1", 16 * w, 8 * w)
        conv("conv6_2", 8 * w, 8 * w)
        up("up7", 8 * w, 4 * w)
        conv("conv7_1", 8 * w, 4 * w)
        conv("conv7_2", 4 * w, 4 * w)
        up("up8", 4 * w, 2 * w)
        conv("conv8_1", 4 * w, 2 * w)
        conv("conv8_2", 2 * w, 2 * w)
        up("up9", 2 * w, w)
        conv("conv9_1", 2 * w, w)
        conv("conv9_2", w, w)
        self.conv10 = nn.Conv2d(w, config.out_channels, 1)

    def _block(self, x: Tensor, level: int) -> Tensor:
        x = lrelu(getattr(self, f"conv{level}_1")(x))
        return lrelu(getattr(self, f"conv{level}_2")(x))

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels / bs**2, H*bs, W*bs); any H, W."""
        h, w = x.shape[-2:]
        bs = self.config.block_size
        identity = depth_to_space(x, bs) if self.config.residual else None
        out = depth_to_space(self.unet(pad_to_multiple(x)), bs)[..., : h * bs, : w * bs]
        return out if identity is None else out + identity

    def unet(self, x: Tensor) -> Tensor:
        """The network proper, on sides divisible by 16: conv1_1 ... conv10, before depth_to_space."""
        skips: list[Tensor] = []
        for level in (1, 2, 3, 4):  # conv1 ... conv4, each kept for its skip connection
            x = self._block(x, level)
            skips.append(x)
            x = functional.max_pool2d(x, 2)
        x = self._block(x, 5)
        for level in (6, 7, 8, 9):  # up6 ++ conv4 -> conv6, ..., up9 ++ conv1 -> conv9
            # pop() lets each skip be freed as soon as it is used: peak memory matters for big frames.
            x = torch.cat([getattr(self, f"up{level}")(x), skips.pop()], dim=1)
            x = self._block(x, level)
        out: Tensor = self.conv10(x)
        return out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
