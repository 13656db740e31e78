"""The task of ``radam demo``: reverse a random sequence with a tiny Post-LN Transformer.

The data are generated (nothing is downloaded): each sequence is ``seq_len`` tokens drawn
uniformly from ``vocab`` symbols, and the target at position ``i`` is the input token at
position ``seq_len - 1 - i``. A model that has learned nothing predicts the uniform
distribution and scores ``log(vocab)`` nats per token (the chance level); one that has
learned the task scores near 0. Every position must fetch its token through attention, so
the task needs the Transformer's attention to work.

The model is the original (Post-LN) Transformer encoder, ``h = LN(h + Attn(h))``,
``h = LN(h + FFN(h))``, as in ``torch.nn.TransformerEncoderLayer``'s default: the variant
that is known to need warm-up with Adam (Liu et al. 2019, section 3; Xiong et al. 2020).

Several independent models (one per seed) are trained at once:
[`StackedTransformer`][radam_cli.demo_task.StackedTransformer] holds their weights stacked
along a leading model axis, and the loss is the sum of their losses. Adam, RAdam and their
variants act on each element on its own, so stacking gives each model exactly the step it
would get alone; it only saves the per-operation overhead of tiny tensors.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radam_cli.demo_config import TaskConfig


def reversal_batch(rng: np.random.Generator, config: TaskConfig, size: int) -> np.ndarray:
    """Draw ``size`` input sequences; their targets are their reversal.

    The targets are [`reversal_targets`][radam_cli.demo_task.reversal_targets] of them.

    Args:
        rng: The generator the tokens are drawn from.
        config: The task's size.
        size: Number of sequences.

    Returns:
        An int64 array of shape ``(size, seq_len)``.
    """
    return rng.integers(0, config.vocab, size=(size, config.seq_len), dtype=np.int64)


def reversal_targets(tokens: np.ndarray) -> np.ndarray:
    """The targets of ``tokens``: each sequence reversed along the last axis."""
    return np.ascontiguousarray(tokens[..., ::-1])


def stacked_batch(
    rngs: list[np.random.Generator], config: TaskConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch for each stacked model, each from its own generator.

    Args:
        rngs: One generator per model (each seed's own data stream).
        config: The task's size.

    Returns:
        ``(tokens, targets)``, int64 tensors of shape ``(models, batch, seq_len)``.
    """
    tokens = np.stack([reversal_batch(rng, config, config.batch) for rng in rngs])
    return torch.from_numpy(tokens), torch.from_numpy(reversal_targets(tokens))


class StackedTransformer(nn.Module):
    """Independent tiny Post-LN Transformer encoders, one per seed, weights stacked.

    Every parameter has a leading axis of length ``len(seeds)``; model ``m`` is initialized
    from ``torch.Generator().manual_seed(seeds[m])`` alone, as PyTorch initializes
    ``nn.Embedding`` (normal), ``nn.Linear`` (uniform in +-1/sqrt(fan_in)) and
    ``nn.LayerNorm`` (gain 1, bias 0), so a seed's model does not depend on which other
    models are stacked with it.

    Args:
        config: The model's size.
        seeds: One seed per model.
    """

    def __init__(self, config: TaskConfig, seeds: tuple[int, ...]) -> None:
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not a multiple of {config.n_heads}")
        self.config = config
        self.seeds = tuple(seeds)
        models, d, ff = len(seeds), config.d_model, config.d_ff

        def weight(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(models, *shape))

        self.token_embedding = weight(config.vocab, d)
        self.position_embedding = weight(config.seq_len, d)
        self.layers = nn.ModuleList(_StackedLayer(models, d, ff) for _ in range(config.n_layers))
        self.head, self.head_bias = weight(d, config.vocab), weight(config.vocab)
        self._initialize()

    @torch.no_grad()
    def _initialize(self) -> None:
        for m, seed in enumerate(self.seeds):
            generator = torch.Generator().manual_seed(seed)
            for name, parameter in self.named_parameters():
                target = parameter[m]
                if name.endswith("embedding"):
                    target.normal_(0.0, 1.0, generator=generator)
                elif name.endswith("gain"):
                    target.fill_(1.0)
                elif name.endswith("bias"):
                    target.zero_()
                else:
                    bound = 1.0 / math.sqrt(target.shape[0])
                    target.uniform_(-bound, bound, generator=generator)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logits of each model for its own tokens.

        Args:
            tokens: Int64 tensor of shape ``(models, batch, seq_len)``.

        Returns:
            Logits of shape ``(models, batch, seq_len, vocab)``.
        """
        config = self.config
        models, _, length = tokens.shape
        model_index = torch.arange(models)[:, None, None]
        h = self.token_embedding[model_index, tokens] + self.position_embedding[:, None, :length]
        for layer in self.layers:
            h = layer(h, config.n_heads)
        return _linear(h, self.head, self.head_bias)

    def losses(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each model's mean cross-entropy (nats per token) on its own batch.

        Args:
            tokens: Int64 tensor of shape ``(models, batch, seq_len)``.
            targets: Int64 tensor of the same shape.

        Returns:
            A tensor of shape ``(models,)``.
        """
        logits = self(tokens)
        per_token = F.cross_entropy(
            logits.reshape(-1, self.config.vocab), targets.reshape(-1), reduction="none"
        )
        return per_token.reshape(tokens.shape[0], -1).mean(dim=1)

    @torch.no_grad()
    def evaluate(self, tokens: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Every model's loss and token accuracy on the same held-out sequences.

        Args:
            tokens: Int64 array of shape ``(size, seq_len)``, shared by all models.

        Returns:
            ``(loss, accuracy)``, each of shape ``(models,)``; NaN where a model's
            weights are no longer finite.
        """
        inputs = torch.from_numpy(tokens).expand(len(self.seeds), *tokens.shape)
        targets = torch.from_numpy(reversal_targets(tokens)).expand_as(inputs)
        logits = self(inputs)
        loss = F.cross_entropy(
            logits.reshape(-1, self.config.vocab), targets.reshape(-1), reduction="none"
        ).reshape(len(self.seeds), -1)
        correct = (logits.argmax(dim=-1) == targets).reshape(len(self.seeds), -1)
        accuracy = correct.to(loss.dtype).mean(dim=1)
        finite = torch.isfinite(loss).all(dim=1)
        accuracy = torch.where(finite, accuracy, torch.nan)
        return loss.mean(dim=1), accuracy


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight + bias`` per model: x ``(M, B, L, i)``, weight ``(M, i, o)``."""
    models, batch, length, width = x.shape
    out = torch.baddbmm(bias[:, None, :], x.reshape(models, batch * length, width), weight)
    return out.reshape(models, batch, length, -1)


def _layer_norm(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last axis with each model's own gain and bias ``(M, width)``."""
    return F.layer_norm(x, x.shape[-1:]) * gain[:, None, None, :] + bias[:, None, None, :]


class _StackedLayer(nn.Module):
    """One Post-LN encoder layer of every stacked model."""

    def __init__(self, models: int, d: int, ff: int) -> None:
        super().__init__()

        def weight(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(models, *shape))

        self.qkv, self.qkv_bias = weight(d, 3 * d), weight(3 * d)
        self.proj, self.proj_bias = weight(d, d), weight(d)
        self.norm1_gain, self.norm1_bias = weight(d), weight(d)
        self.ff1, self.ff1_bias = weight(d, ff), weight(ff)
        self.ff2, self.ff2_bias = weight(ff, d), weight(d)
        self.norm2_gain, self.norm2_bias = weight(d), weight(d)

    def forward(self, h: torch.Tensor, heads: int) -> torch.Tensor:
        """``LN(h + Attn(h))`` then ``LN(h + FFN(h))`` for ``h`` of shape ``(M, B, L, d)``."""
        models, batch, length, d = h.shape
        qkv = _linear(h, self.qkv, self.qkv_bias)
        q, k, v = qkv.reshape(models, batch, length, 3, heads, d // heads).permute(3, 0, 1, 4, 2, 5)
        # softmax(q k^T / sqrt(d_head)) v, written out: on tiny heads it is faster on the CPU
        # than F.scaled_dot_product_attention.
        weights = torch.softmax(q @ k.transpose(-1, -2) * (d // heads) ** -0.5, dim=-1)
        attended = weights @ v
        attended = attended.permute(0, 1, 3, 2, 4).reshape(models, batch, length, d)
        h = _layer_norm(
            h + _linear(attended, self.proj, self.proj_bias), self.norm1_gain, self.norm1_bias
        )
        hidden = torch.relu(_linear(h, self.ff1, self.ff1_bias))
        return _layer_norm(
            h + _linear(hidden, self.ff2, self.ff2_bias), self.norm2_gain, self.norm2_bias
        )
