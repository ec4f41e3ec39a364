"""A nearest-neighbour graph of sentence vectors and Louvain modularity communities on it (app environment).

Own code on numpy/scipy, measured against the library alternatives in docs/BENCHMARKS.md:

- networkx (already in the app env) has ``louvain_communities``; on the same 10,003-text
  kNN graph it took 12-19 s against 0.9-1.7 s here, which would not fit a 23,700-text
  rebuild into a minute on two cores; its ``leiden_communities`` needs a separate backend.
- python-igraph / leidenalg (C, Leiden) would be the first choice but are not in the
  locked environment.

The algorithm is the classic one (Blondel et al. 2008): move each node to the
neighbouring community with the best modularity gain until nothing moves, collapse
communities into nodes, repeat. Node order is shuffled with a seed, so a rebuild is
reproducible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from supportbot.feedback.workers import map_on_threads

if TYPE_CHECKING:
    from numpy.typing import NDArray

BLOCK = 2048
"""Query rows per block of the exact kNN search: bounds memory at BLOCK × n floats."""


MIN_EDGE_SIMILARITY = 0.3
"""Neighbours less similar than this get no edge. Without it a group smaller than ``neighbours``
is tied to unrelated texts by its remaining neighbour slots and can be absorbed by another
community; on the train-split samples the floor changed NMI and ARI by under 0.002 either way."""


CANDIDATES = 8
"""Extra candidates per row from the bfloat16 search, re-scored in float32 (see ``knn_graph``)."""


def knn_graph(
    vectors: NDArray[np.float32],
    *,
    neighbours: int,
    min_similarity: float = MIN_EDGE_SIMILARITY,
    workers: int = 1,
) -> sp.csr_matrix:
    """Symmetric graph: an edge (weight = cosine similarity) from each row to its nearest rows.

    Exact search by blocks of dot products, the blocks spread over ``workers`` threads
    (``supportbot.feedback.workers``). torch (there for sentence-transformers) does the
    top-k: ``torch.topk`` took under half the CPU time of ``numpy.argpartition`` on
    23,700 × 23,700 similarities. Where the CPU multiplies bfloat16 natively, the n × n
    products are bfloat16 (2.6 times less CPU than float32 on CLINC150's 23,700 vectors) and
    pick ``neighbours`` + ``CANDIDATES`` candidates per row, which are re-scored in float32:
    the edges and weights are float32's unless a true neighbour ranks below that in
    bfloat16 (similarity errors there are about 0.003).
    """
    import torch

    from supportbot.feedback.embedding import bfloat16_is_fast

    n = len(vectors)
    k = min(neighbours, n - 1)
    if k < 1:
        return sp.csr_matrix((n, n), dtype=np.float64)
    exact = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    fast = exact.to(torch.bfloat16) if bfloat16_is_fast() else exact
    wide = min(k + CANDIDATES, n - 1) if fast.dtype == torch.bfloat16 else k

    def block_neighbours(start: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
        with torch.inference_mode():
            block = fast[start : start + BLOCK] @ fast.T
            own = torch.arange(start, start + len(block))
            block[torch.arange(len(block)), own] = -2.0  # never one's own neighbour
            values, index = torch.topk(block, wide, dim=1)
            if wide != k or block.dtype != torch.float32:
                rescored = torch.einsum("bd,bkd->bk", exact[start : start + len(block)], exact[index])
                values, pick = torch.topk(rescored, k, dim=1)
                index = index.gather(1, pick)
            return own.repeat_interleave(k).numpy(), index.reshape(-1).numpy(), values.reshape(-1).numpy()

    found = map_on_threads(block_neighbours, list(range(0, n, BLOCK)), workers=workers)
    weights = np.concatenate([f[2] for f in found]).astype(np.float64)
    weights[weights < min_similarity] = 0.0
    rows, cols = np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
    graph = sp.csr_matrix((weights, (rows, cols)), shape=(n, n))
    graph = graph.maximum(graph.T).tocsr()  # i→j or j→i: one undirected edge
    graph.eliminate_zeros()
    return graph


def _move_nodes(
    graph: sp.csr_matrix, strength: NDArray[np.float64], scale: float, rng: np.random.Generator
) -> list[int]:
    """One Louvain level: greedy moves until a sweep moves (almost) nothing; community per node."""
    n = graph.shape[0]
    indptr, indices, data = graph.indptr.tolist(), graph.indices.tolist(), graph.data.tolist()
    mass = strength.tolist()
    community = list(range(n))
    total = list(mass)  # summed strength per community
    order = rng.permutation(n).tolist()
    for _sweep in range(50):
        moves = 0
        for i in order:
            own, own_mass = community[i], mass[i]
            links: dict[int, float] = {}
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if j != i:
                    links[community[j]] = links.get(community[j], 0.0) + data[p]
            total[own] -= own_mass
            best, best_gain = own, links.get(own, 0.0) - scale * own_mass * total[own]
            for candidate, weight in links.items():
                gain = weight - scale * own_mass * total[candidate]
                if gain > best_gain + 1e-12:
                    best, best_gain = candidate, gain
            total[best] += own_mass
            if best != own:
                community[i] = best
                moves += 1
        if moves <= n // 1000:
            break
    return community


def communities(graph: sp.csr_matrix, *, resolution: float, seed: int = 0) -> NDArray[np.int64]:
    """Louvain communities maximising modularity with ``resolution`` (higher: smaller communities)."""
    n = graph.shape[0]
    labels = np.arange(n, dtype=np.int64)
    strength: NDArray[np.float64] = np.asarray(graph.sum(axis=1), dtype=np.float64).ravel()
    two_m = float(strength.sum())
    if two_m == 0.0:
        return labels
    rng = np.random.default_rng(seed)
    scale = resolution / two_m
    current = graph
    for _level in range(32):
        moved = _move_nodes(current, strength, scale, rng)
        uniques, renumbered = np.unique(np.asarray(moved), return_inverse=True)
        if len(uniques) == current.shape[0]:
            break
        labels = renumbered[labels]
        member = sp.csr_matrix(
            (np.ones(len(renumbered)), (np.arange(len(renumbered)), renumbered)),
            shape=(len(renumbered), len(uniques)),
        )
        current = (member.T @ current @ member).tocsr()  # self-loops keep each community's inner weight
        strength = np.bincount(renumbered, weights=strength).astype(np.float64)
    return labels
