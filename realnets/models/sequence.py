"""Sequence models: the bidirectional LSTM of seed 000's relation-extraction experiment."""

from __future__ import annotations

import torch
from torch import nn

from realnets.models._checks import positive_int, probability
from realnets.models.registry import register_model

__all__ = ["BiLSTMClassifier", "bilstm"]


class BiLSTMClassifier(nn.Module):
    """Embedding -> multi-layer bidirectional LSTM -> linear on the two final hidden states.

    For tokens ``x_1..x_T``: ``h_fwd`` is the forward direction's state after ``x_T`` and ``h_bwd`` the
    backward direction's state after ``x_1`` (both of the top layer); logits ``= W [h_fwd; h_bwd] + b``.
    """

    def __init__(
        self, vocab_size: int, embed_dim: int, hidden: int, num_layers: int, dropout: float, num_outputs: int
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(
            embed_dim,
            hidden,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=True,
            batch_first=True,
        )
        self.head = nn.Linear(2 * hidden, num_outputs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.is_floating_point() or tokens.ndim != 2:
            raise ValueError(
                f"Invalid bilstm input: {tokens.dtype} of shape {tuple(tokens.shape)} "
                "(expected int64 token ids of shape (batch, seq_len))"
            )
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        # h_n is (num_layers * 2, B, hidden); the last two rows are the top layer's two directions.
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=1))


@register_model(
    "bilstm", "embedding + 2-layer bidirectional LSTM + linear (seed 000 appendix A), token inputs"
)
def bilstm(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    vocab_size: int | None = None,
    embed_dim: int = 64,
    hidden: int = 64,
    num_layers: int = 2,
    dropout: float = 0.0,
) -> nn.Module:
    """Seed 000's relation-extraction model, appendix A: "two layers of bi-directional LSTM, and a
    softmax outputs the probability" (the softmax is in the cross-entropy loss; the model returns logits).

    Args:
        input_shape: ``(seq_len,)`` of int64 token ids.
        vocab_size: Number of token ids (``Dataset.vocab_size``); required.

    Note:
        The paper gives no embedding or hidden sizes, and its task (quadruple extraction from financial
        documents) is not public; 64/64 are our defaults, and we train it on "synthetic-sequence".
    """
    if len(input_shape) != 1:
        raise ValueError(f"Invalid input_shape for bilstm: {input_shape} (expected (seq_len,) of token ids)")
    if vocab_size is None:
        raise ValueError("Invalid vocab_size: None (bilstm needs it; pass vocab_size=dataset.vocab_size)")
    return BiLSTMClassifier(
        positive_int("vocab_size", vocab_size),
        positive_int("embed_dim", embed_dim),
        positive_int("hidden", hidden),
        positive_int("num_layers", num_layers),
        probability("dropout", dropout),
        num_outputs,
    )
