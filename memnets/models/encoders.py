"""Sentence encoders shared by the memory networks: bag of words and position encoding.

Position encoding (Sukhbaatar et al. 2015, §4.1) weighs word j of a J-word sentence, in embedding dimension k of d,
by l_kj = (1 - j/J) - (k/d)(1 - 2j/J) (1-based j and k). That weight splits as a_j + (k/d) g_j with a_j = 1 - j/J
and g_j = 2j/J - 1, so a sentence's encoding is bag_a @ E + (k/d) * (bag_g @ E) = [bag_a, bag_g] @ [E; (k/d) E],
where bag_a and bag_g are vocabulary-sized vectors holding each word's summed a_j and g_j. The encoder becomes one
small dense matrix product, whose backward is a matrix product too, instead of a gather over every word and a
scatter back into the embedding table (the slow part of a naive implementation on CPU).

The authors' released code (facebookarchive/MemNN, MemN2N-babi-matlab, build_model.m) uses another weight:
l_kj = 1 + 4 (k - (d+1)/2)(j - (J+1)/2) / (d J), with one J for the whole data set (the longest sentence, plus one
for the time word). It splits the same way, with c_j = j - (J+1)/2: a_j = 1 - 2(d+1) c_j / (d J), g_j = 4 c_j / J.
Its weights stay near 1, so a word's identity dominates its position; on bAbI task 16 that is the difference
between failing (about 52% error) and solving the task (see the README).
"""
from __future__ import annotations

import torch


_compiling = getattr(torch.compiler, "is_compiling", lambda: False)  # PyTorch 2.3 on
_RELEASED: dict[tuple, torch.Tensor] = {}  # _released_weights made so far, by (width, dim, sentence_size, device)


def _released_weights(width: int, dim: int, sentence_size: int, device: torch.device) -> torch.Tensor:
    """a_j and g_j of the released position encoding for word positions 1..``width``: (2, width), made once per
    shape in eager mode (a compiled graph makes them itself: the compiler folds them into constants)."""
    key, compiling = (width, dim, sentence_size, str(device)), _compiling()
    if not compiling and key in _RELEASED:
        return _RELEASED[key]
    c = [j - (sentence_size + 1) / 2 for j in range(1, width + 1)]
    weights = torch.tensor([[1 - 2 * (dim + 1) * x / (dim * sentence_size) for x in c],
                            [4 * x / sentence_size for x in c]], device=device)
    if not compiling:
        _RELEASED[key] = weights
    return weights


def sentence_bags(ids: torch.Tensor, vocab_size: int, encoding: str, dim: int = 0, sentence_size: int = 0,
                  time: torch.Tensor | None = None, memory_size: int = 0) -> torch.Tensor:
    """Word-weight features of sentences: (..., J) word ids -> (..., P*V), P = 2 with position encoding, else 1.

    ``encoding`` is "bow", "position" (the paper's formula, J = each sentence's length) or "position-released"
    (the authors' code, J = ``sentence_size`` for every sentence; needs ``dim`` = d). Padding (id 0) gets weight 0,
    so the nil word never contributes and its embedding row receives no gradient. Trailing padding changes
    nothing, so sentences of several widths can be padded to one and encoded together.

    With ``time`` (...,) given, ``memory_size`` = M more features follow, (..., P*V + M): a one-hot of each
    sentence's time index (1..M; a later time, which random noise can draw, sets the last; 0 sets none), so that
    the product that encodes the sentences adds their temporal rows T(i) too.
    """
    mask = (ids != 0).to(torch.float32)  # (..., J)
    if encoding == "position":
        j = torch.arange(1, ids.shape[-1] + 1, dtype=torch.float32, device=ids.device)  # (J,) 1-based positions
        length = mask.sum(-1, keepdim=True).clamp(min=1)  # (..., 1) J of each sentence
        weights = torch.stack([(1 - j / length) * mask, (2 * j / length - 1) * mask], dim=-2)  # (..., 2, J) a, g
    elif encoding == "position-released":  # a and g are the same for every sentence
        weights = _released_weights(ids.shape[-1], dim, sentence_size, ids.device) * mask.unsqueeze(-2)
    if encoding != "bow":
        index = torch.stack([ids, ids + vocab_size], dim=-2).flatten(-2)  # (..., 2J) g-weights: the second half
    else:
        weights, index = mask.unsqueeze(-2), ids  # (..., 1, J) bag of words
    weights = weights.flatten(-2)  # (..., P*J)
    size = weights.shape[-1] // ids.shape[-1] * vocab_size  # P*V
    if time is not None:
        slot = size - 1 + time.clamp(1, memory_size)  # (...,) the time's column
        index = torch.cat([index, slot.unsqueeze(-1)], -1)  # (..., P*J + 1)
        weights = torch.cat([weights, (time > 0).to(torch.float32).unsqueeze(-1)], -1)
        size += memory_size
    bags = ids.new_zeros(*ids.shape[:-1], size, dtype=torch.float32)
    return bags.scatter_add(-1, index, weights)  # (..., P*V [+ M])


def position_weights(embedding: torch.Tensor, position: bool) -> torch.Tensor:
    """The matrix that ``sentence_bags`` features multiply: (n, V, d) -> (n, P*V, d), i.e. [E; (k/d) E] for PE."""
    if not position:
        return embedding
    d = embedding.shape[-1]
    k = torch.arange(1, d + 1, dtype=torch.float32, device=embedding.device) / d  # (d,) the k/d factor of l_kj
    return torch.cat([embedding, embedding * k], dim=-2)  # (n, 2V, d)


def encode(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Encode with n matrices in one product: (..., F) features, (n, F, d) weights -> (..., n, d)."""
    n, f, d = weights.shape
    out = features.reshape(-1, f) @ weights.transpose(0, 1).reshape(f, n * d)  # (X, n*d)
    return out.reshape(*features.shape[:-1], n, d)  # (..., n, d)
