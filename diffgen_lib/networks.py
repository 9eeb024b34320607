"""Raw denoiser networks F(x_in, c_noise, labels) for :class:`diffusion.EDMPrecond`.

``MLPDenoiser`` for low-dimensional data (2-D toy points, flattened small images) and a small
``UNet`` for images, both with a sinusoidal embedding of c_noise = ln(sigma)/4 and optional
class conditioning. A conditional network has an embedding table of n_classes + 1 rows; the
last row is the NULL label, used where ``labels`` is None (classifier-free guidance).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def resolve_device(device: Union[str, torch.device] = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; anything else is passed to torch."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but CUDA is not available")
    return device


def count_parameters(net: nn.Module) -> int:
    """Number of parameters (frozen ones too, as in the snapshots of a trained run)."""
    return sum(p.numel() for p in net.parameters())


# ----------------------------------------------------------------------------------------------
# Embeddings


class PositionalEmbedding(nn.Module):
    """Sinusoidal features [cos(f_k t), sin(f_k t)] of a scalar t, f_k log-spaced in [1, max_freq].

    t is c_noise = ln(sigma)/4, about [-1.6, 1.1] over sigma in [0.002, 80], so the frequencies
    span slow (nearly linear) to fast features of the noise level.
    """

    def __init__(self, dim: int, max_freq: float = 100.0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even int >= 2, got {dim}")
        freqs = max_freq ** torch.linspace(0, 1, dim // 2)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angle = t.float()[:, None] * self.freqs
        return torch.cat([angle.cos(), angle.sin()], dim=1)


class NoiseAndLabelEmbedding(nn.Module):
    """emb = SiLU(MLP(positional(c_noise)) + table[label]); label None -> the NULL row."""

    def __init__(self, dim: int, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        self.positional = PositionalEmbedding(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label_table = nn.Embedding(n_classes + 1, dim) if n_classes > 0 else None
        if self.label_table is not None:
            nn.init.normal_(self.label_table.weight, std=1.0)

    def null_label(self) -> int:
        return self.n_classes

    def forward(self, c_noise: Tensor, labels: Optional[Tensor]) -> Tensor:
        emb = self.mlp(self.positional(c_noise))
        if self.label_table is None:
            if labels is not None:
                raise ValueError("labels given to an unconditional network (n_classes = 0)")
        else:
            if labels is None:
                labels = torch.full((len(c_noise),), self.n_classes, dtype=torch.long,
                                    device=c_noise.device)
            emb = emb + self.label_table(labels.long())
        return F.silu(emb)


# ----------------------------------------------------------------------------------------------
# MLP


class MLPDenoiser(nn.Module):
    """Residual MLP on flattened inputs of any shape, with the noise (and label) embedding added.

    h = Linear(x); per block h += Linear(SiLU(Linear(LayerNorm(h) + emb))); out = Linear(h).
    The output layer starts at zero, so the preconditioned D starts as c_skip x.
    """

    def __init__(self, data_shape: Sequence[int], width: int = 256, depth: int = 4,
                 n_classes: int = 0):
        super().__init__()
        self.data_shape = tuple(data_shape)
        dim = math.prod(self.data_shape)
        self.embed = NoiseAndLabelEmbedding(width, n_classes)
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_MLPBlock(width) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, c_noise: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        emb = self.embed(c_noise, labels)
        h = self.inp(x.flatten(1))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h))).view(x.shape)


class _MLPBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        return h + self.fc2(F.silu(self.fc1(self.norm(h) + emb)))


# ----------------------------------------------------------------------------------------------
# U-Net


def _num_groups(channels: int) -> int:
    """Largest group count in (32, 16, 8, 4, 2, 1) dividing channels with >= 4 channels per group."""
    return next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0 and channels // g >= min(4, channels))


class PixelNorm(nn.Module):
    """Normalize each pixel's channel vector (as EDM2): local, so it keeps the receptive field."""

    def __init__(self, channels: int, eps: float = 1e-4):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(_num_groups(channels), channels)
    if kind == "pixel":
        return PixelNorm(channels)
    raise ValueError(f"norm must be 'group' or 'pixel', got {kind!r}")


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv, + embedding, GroupNorm-SiLU-conv, with a (1x1 when needed) skip."""

    def __init__(self, cin: int, cout: int, emb_dim: int, kernel_size: int, norm: str,
                 dropout: float = 0.0):
        super().__init__()
        pad = kernel_size // 2
        self.norm1 = _norm(norm, cin)
        self.conv1 = nn.Conv2d(cin, cout, kernel_size, padding=pad)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2 = _norm(norm, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, kernel_size, padding=pad)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.skip(x) + h) * math.sqrt(0.5)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (global receptive field)."""

    def __init__(self, channels: int, norm: str, head_channels: int = 32):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        self.norm = _norm(norm, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, emb: Optional[Tensor] = None) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2),
                                             v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """A small U-Net (in the style of DDPM++/ADM) for images of shape (C, H, W).

    ``len(channel_mult)`` levels; level i has ``channels * channel_mult[i]`` channels and
    ``num_blocks`` residual blocks in the encoder and in the decoder (with skip connections);
    between levels, 2x2 average pooling down and nearest-neighbour upsampling up, followed by a
    conv when ``upsample_conv`` (without it the two paths are symmetric; for the default
    two-level U-Net that conv is about a fifth of the forward FLOPs: it runs at full resolution
    with the lower level's width). The
    middle has one residual block (two around a self-attention layer if ``attention``).

    Image sizes: the input is zero-padded on the bottom/right to a multiple of
    2^(levels - 1) and the output cropped back, so any H, W works with any number of levels
    (14x14 with 3 levels runs at 16 -> 8 -> 4; 28x28 with 3 levels at 28 -> 14 -> 7).

    Receptive field: set by the levels and ``kernel_size`` (see :func:`receptive_field`). With
    ``norm="group"`` the GroupNorm statistics are taken over the whole image, a weak global
    coupling; ``norm="pixel"`` normalizes each pixel alone, so a network without attention then
    sees strictly a finite window.
    """

    def __init__(self, image_shape: Sequence[int], channels: int = 32,
                 channel_mult: Sequence[int] = (1, 2), num_blocks: int = 1, kernel_size: int = 3,
                 attention: bool = False, n_classes: int = 0, emb_dim: Optional[int] = None,
                 norm: str = "group", dropout: float = 0.0, channels_last: bool = False,
                 upsample_conv: bool = True):
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 1, got {kernel_size}")
        if not channel_mult or min(channel_mult) < 1:
            raise ValueError(f"channel_mult must be a non-empty sequence of ints >= 1, got {channel_mult}")
        self.image_shape = tuple(image_shape)
        self.levels = len(channel_mult)
        emb_dim = emb_dim or 4 * channels
        in_ch = image_shape[0]
        widths = [channels * m for m in channel_mult]
        block = lambda cin, cout: ResBlock(cin, cout, emb_dim, kernel_size, norm, dropout)  # noqa: E731

        self.embed = NoiseAndLabelEmbedding(emb_dim, n_classes)
        self.inp = nn.Conv2d(in_ch, widths[0], kernel_size, padding=kernel_size // 2)

        self.down = nn.ModuleList()
        skip_widths, cur = [], widths[0]
        for level, width in enumerate(widths):
            blocks = nn.ModuleList()
            for _ in range(num_blocks):
                blocks.append(block(cur, width))
                cur = width
                skip_widths.append(cur)
            self.down.append(blocks)

        mid = [block(cur, cur)]
        if attention:
            mid += [SelfAttention(cur, norm), block(cur, cur)]
        self.mid = nn.ModuleList(mid)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(self.levels)):
            blocks = nn.ModuleList()
            for _ in range(num_blocks):
                blocks.append(block(cur + skip_widths.pop(), widths[level]))
                cur = widths[level]
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(nn.Conv2d(cur, cur, kernel_size, padding=kernel_size // 2)
                                     if upsample_conv else nn.Identity())

        self.out_norm = _norm(norm, cur)
        self.out = nn.Conv2d(cur, in_ch, kernel_size, padding=kernel_size // 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.to(memory_format=self.memory_format)

    def forward(self, x: Tensor, c_noise: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        emb = self.embed(c_noise, labels)
        x = x.contiguous(memory_format=self.memory_format)
        height, width = x.shape[-2:]
        multiple = 2 ** (self.levels - 1)
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))

        h = self.inp(x)
        skips = []
        for level, blocks in enumerate(self.down):
            for blk in blocks:
                h = blk(h, emb)
                skips.append(h)
            if level < self.levels - 1:
                h = F.avg_pool2d(h, 2)
        for layer in self.mid:
            h = layer(h, emb)
        for i, blocks in enumerate(self.up):
            for blk in blocks:
                h = blk(torch.cat([h, skips.pop()], dim=1), emb)
            if i < self.levels - 1:
                h = self.upsample[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        out = self.out(F.silu(self.out_norm(h)))
        return out[..., :height, :width].contiguous()


def receptive_field(net: nn.Module, image_shape: Sequence[int], at: Optional[Tuple[int, int]] = None,
                    labels: Optional[Tensor] = None) -> Tuple[int, int]:
    """Height and width of the input region that influences one output pixel (default: centre).

    Measured, not computed: the gradient of that output pixel with respect to the input is
    taken at a random input and its nonzero extent returned. GroupNorm statistics couple every
    pixel weakly; use a network with ``norm="pixel"`` to measure the convolutional field.
    """
    import copy

    c, h, w = image_shape
    y, x0 = at if at is not None else (h // 2, w // 2)
    gen = torch.Generator().manual_seed(0)
    net = copy.deepcopy(net)  # random weights everywhere: zero-initialized layers would hide paths
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen).to(p) * 0.1 + 0.1)
    x = torch.randn((1, c, h, w), generator=gen).requires_grad_(True)
    param = next(net.parameters())
    out = net(x.to(param.device), torch.zeros(1, device=param.device), labels)
    out[0, :, y, x0].sum().backward()
    mask = (x.grad[0].abs().sum(0) > 0).nonzero()
    if len(mask) == 0:
        return (0, 0)
    return (int(mask[:, 0].max() - mask[:, 0].min() + 1), int(mask[:, 1].max() - mask[:, 1].min() + 1))
