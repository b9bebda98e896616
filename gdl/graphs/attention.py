"""Fused attention over a graph: a CSR kernel with its own backward, and a block-sparse FlexAttention path.

The attention of :class:`~gdl.graphs.transformer.TransformerGNNLayer` over a graph G (book §5.4, eq. 36),

.. math::
    s_e = τ ⟨q_i, k_j⟩, \\qquad α_e = \\frac{\\exp s_e}{\\sum_{e' → i} \\exp s_{e'}}, \\qquad
    o_i = \\sum_{e = (j → i)} α_e v_j \\qquad (τ = 1/\\sqrt{d_h}),

per head, is computed here without the per-edge messages ``[E, H, d_h]`` of message passing:

* :func:`fused_sparse_attention` (any graph, with a backward; built from torch's sparse CSR kernels, which exist on
  the CPU and on CUDA; measured here on the CPU only): the graph as a CSR matrix A with
  rows = receivers (edges sorted by (target, source) once per graph, :func:`csr_plan`). The logits are a sampled
  dense-dense product (``torch.sparse.sampled_addmm``), the softmax a segment max / segment sum over each row
  (``torch.segment_reduce``) with the normalisation delayed to the rows (ex = exp(s − max), o = A(ex) v / Σ ex),
  the output a sparse-dense product (MKL on the CPU). The heads of a batch are one block-diagonal matrix (one call).
  Its backward is flash attention's, on the same CSR structure and its transpose (rows = senders):

  .. math::
      do' = do / Σ ex,\\quad D'_i = ⟨do'_i, o_i⟩,\\quad dv = Aᵀ(ex)\\, do',\\quad
      ds_e = ex_e (⟨do'_i, v_j⟩ − D'_i),\\quad dq = τ A(ds)\\, k,\\quad dk = τ Aᵀ(ds)\\, q.

  Per-edge tensors are scalars (``[B·H·E]``), and the temporaries among them have at most ``chunk_size`` entries
  (rows are processed in chunks); ex is kept for the backward up to ``save_limit`` entries, beyond which the
  backward recomputes it from q, k and the saved row maxima (memory O(chunk + N·H·d_h)).
* :func:`block_sparse_attention` (structured graphs: windows, dilated windows, global tokens, causal windows,
  block-diagonal batches): ``torch.nn.attention.flex_attention`` with a ``BlockMask`` built from the graph once
  (:func:`block_plan`): the blocks of ``block_size`` × ``block_size`` that hold an edge, which of them are full,
  and a ``mask_mod`` that reads a per-graph bitmap (a band ``[N, W]`` around the diagonal when the graph is
  banded, the dense ``[N, N]`` bitmap otherwise); repeated edges add log(multiplicity) to their score, so a
  multigraph is exact too. Compiled with ``torch.compile`` on first use (5–30 s on a CPU; one compiled function,
  static shapes, shared by every graph of the same padded size). FlexAttention has **no backward on the CPU** and
  no float64 there: requesting either raises.
* :func:`fused_gat_attention`: GAT's attention (α = softmax LeakyReLU(a_j + b_i)) in the same CSR form; its logits
  are gathers of per-node scores, so its backward recomputes them and keeps nothing per edge.

Plans are cached per graph (:class:`PlanCache`): keyed by the ``edge_index`` tensor (a weak reference to it), its
version counter and N; a hit is verified against a copy of the graph while value checks are on
(:func:`gdl.core.checking`), so a cache never serves a plan to another graph.

Which path :class:`~gdl.graphs.transformer.TransformerGNNLayer` takes with ``path="auto"`` is
:func:`choose_sparse_path`; every path gives the numbers of the per-edge message passing (tested to 1e-5 in float32,
1e-10 in float64, outputs and gradients).

Shapes:
    query, key, value ``[..., N, d]`` (any leading batch/head axes, SDPA's ``[B, H, N, d]`` layout) →
    ``[..., N, d]``; ``edge_index`` ``[2, E]`` with ``edge_index[:, e] = (j, i)``: i attends to j.

Example:
    >>> import torch
    >>> from gdl.graphs.builders import to_attention_mask, window_graph
    >>> q, k, v = torch.randn(3, 2, 4, 10, 8, dtype=torch.float64).unbind(0)   # [B, H, N, d] each
    >>> graph = window_graph(10, 2)
    >>> out = fused_sparse_attention(q, k, v, graph)
    >>> mask = to_attention_mask(graph, 10)
    >>> reference = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    >>> bool((out - reference).abs().max() < 1e-12)
    True
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from gdl.core.checks import check_int, checking

__all__ = ["fused_sparse_attention", "block_sparse_attention", "fused_gat_attention", "choose_sparse_path",
           "PlanCache", "CSRPlan", "BlockPlan", "csr_plan", "block_plan", "CSR_PLANS", "BLOCK_PLANS", "FLEX_COMPILED",
           "CHUNK_SIZE", "SAVE_LIMIT", "BLOCK_SIZE", "DEFAULT_BLOCK_SIZE", "FLEX_DTYPES"]

#: per-edge scalars per chunk of the fused path (4 MiB in float32): the size of its per-edge temporaries
CHUNK_SIZE = 2 ** 20
#: the fused path keeps ex = exp(s − max) (B·H·E scalars) for the backward up to this many (8 MiB in float32),
#: else it recomputes ex in the backward (one more sampled product per pass, about +20 % time) and keeps nothing of
#: size E: on the complete graph at N = 1,024 (4 heads) that is 27 MiB peak against 67 MiB, the dense path's 24 MiB
SAVE_LIMIT = 2 ** 21
#: the side of FlexAttention's blocks (query and key blocks alike) by device type: on the CPU 32 (measured at
#: N = 4,096 on windows of radius 8 and 32: 32 beats 64 by 1.5–1.7× and 128 by 2.8×), else 128 (FlexAttention's
#: default on GPUs)
BLOCK_SIZE = {"cpu": 32}
DEFAULT_BLOCK_SIZE = 128
#: block plans pad the nodes to a power of two, at least this (small graphs then share one compiled kernel)
MIN_PADDED_NODES = 128
#: the dtypes FlexAttention runs in on the CPU (it refuses float64 there)
FLEX_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
#: the largest bitmap (bytes) a block plan may hold: [N, W] for banded graphs, [N, N] otherwise
MASK_BYTES = 2 ** 30
#: ``auto`` takes the block-sparse path only from this many nodes (below, the fused path is as fast and compiles
#: nothing) …
BLOCK_SPARSE_MIN_NODES = 1024
#: … and only when at least this fraction of the entries inside the stored blocks are edges (FlexAttention computes
#: every entry of a stored block; measured break-even against the fused path on a CPU, blocks of 32: 0.3–0.5)
BLOCK_SPARSE_MIN_DENSITY = 0.4


# -- the plan cache ------------------------------------------------------------------------------------------------

def _check_graph(edge_index, num_nodes: int) -> None:
    """Shapes and dtype of ``edge_index`` and every node id in 0 … N−1 (the plan builders read the values anyway)."""
    if not isinstance(edge_index, Tensor) or edge_index.dtype != torch.long:
        given = edge_index.dtype if isinstance(edge_index, Tensor) else type(edge_index).__name__
        raise TypeError(f"edge_index must be an int64 tensor [2, E], got {given}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    outside = ((edge_index < 0) | (edge_index >= num_nodes)).any(0)
    if edge_index.numel() and bool(outside.any()):
        columns = outside.nonzero().squeeze(1)
        first = int(columns[0])
        j, i = edge_index[:, first].tolist()
        raise ValueError(f"edge_index refers to nodes outside 0..{num_nodes - 1} (the graph has {num_nodes} nodes): "
                         f"{columns.numel()} edge(s), columns {columns[:8].tolist()}"
                         f"{' …' if columns.numel() > 8 else ''}, e.g. column {first}: {j} → {i}")


class PlanCache:
    """Per-graph plans (CSR conversions, block masks), computed once and reused while the graph is unchanged.

    A plan is keyed by the ``edge_index`` tensor itself (a weak reference: the entry dies with the tensor, and a new
    tensor that reuses its address is another key), its version counter (an in-place change is a miss), N and the
    builder's options. A hit is verified against the plan's own copy of the graph (``torch.equal``, O(E)) while
    value checks are on (:func:`gdl.core.checking`): a tensor changed behind autograd's back (``edge_index.data``)
    is rebuilt, never served another graph's plan. With checks off (inner layers of a network, trusted loops) the
    identity and the version counter decide (inference tensors, which have no version counter, are always
    verified). At most ``max_plans`` plans are kept (least recently used first out).

    ``hits``, ``builds`` and ``rejected`` (hits refused by the verification) count what happened.
    """

    def __init__(self, build: Callable, max_plans: int = 8):
        self.build = build
        self.max_plans = check_int(max_plans, "max_plans")
        self._plans: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.builds = self.rejected = 0

    def get(self, edge_index: Tensor, num_nodes: int, *options):
        """The plan of ``edge_index`` on ``num_nodes`` nodes (built on a miss)."""
        if not isinstance(edge_index, Tensor):
            return self.build(edge_index, num_nodes, *options)  # the builder names what was given
        key = (id(edge_index), num_nodes, options)
        version = None if edge_index.is_inference() else edge_index._version  # inference tensors have no counter
        with self._lock:
            entry = self._plans.get(key)
        if entry is not None:
            reference, saved_version, plan = entry
            if reference() is edge_index and version == saved_version:
                if (version is not None and not checking()) or plan.same_graph(edge_index):
                    with self._lock:
                        self._plans.move_to_end(key)
                    self.hits += 1
                    return plan
                self.rejected += 1
        plan = self.build(edge_index, num_nodes, *options)
        self.builds += 1

        def forget(dead, key=key):
            with self._lock:
                if key in self._plans and self._plans[key][0] is dead:
                    del self._plans[key]

        with self._lock:
            self._plans[key] = (weakref.ref(edge_index, forget), version, plan)
            self._plans.move_to_end(key)
            while len(self._plans) > self.max_plans:
                self._plans.popitem(last=False)
        return plan

    def clear(self) -> None:
        """Forget every plan (the counters stay)."""
        with self._lock:
            self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} plans, hits={self.hits}, builds={self.builds}, "
                f"rejected={self.rejected})")


@dataclass(eq=False)
class _GraphPlan:
    """What every plan shares: the graph it was built for (a copy) and its size."""

    num_nodes: int
    edge_index: Tensor = field(repr=False)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def same_graph(self, edge_index: Tensor) -> bool:
        """Whether ``edge_index`` is exactly the graph of this plan (same columns in the same order)."""
        return (edge_index.shape == self.edge_index.shape and edge_index.device == self.edge_index.device
                and bool(torch.equal(edge_index, self.edge_index)))

    def check(self, edge_index: Tensor | None, num_nodes: int) -> None:
        """Raise ``ValueError`` unless this plan serves ``edge_index`` (when given) on ``num_nodes`` nodes."""
        if num_nodes != self.num_nodes:
            raise ValueError(f"this {type(self).__name__} was built for a graph on {self.num_nodes} nodes, "
                             f"got inputs with {num_nodes} nodes")
        if edge_index is not None and not self.same_graph(edge_index):
            raise ValueError(f"this {type(self).__name__} was built for another graph: expected the plan's "
                             f"{self.num_edges} edges on {self.num_nodes} nodes, got an edge_index "
                             f"{list(edge_index.shape)} that differs from it")


# -- the CSR plan and the fused kernel -------------------------------------------------------------------------------

@dataclass(eq=False)
class CSRPlan(_GraphPlan):
    """A graph as a CSR matrix A (row i = the edges into node i) and as its transpose (row j = the edges out of j).

    Attributes:
        row_ptr: ``[N + 1]`` offsets of A's rows; A's entries are the edges sorted by (target, source), with
            ``row_col`` ``[E]`` their sources and ``row_target`` ``[E]`` their targets.
        col_ptr: ``[N + 1]`` offsets of Aᵀ's rows (entries sorted by (source, target)); ``col_row`` ``[E]`` their
            targets, ``col_source`` ``[E]`` their sources.
        transpose: ``[E]`` for each entry of Aᵀ, its position among A's entries.

    The ``[E]`` arrays are int32 when N and E allow it (the sparse kernels index in int32): with the copy of the
    graph that verifies cache hits, a plan takes 36 bytes per edge.
    """

    row_ptr: Tensor = field(repr=False, default=None)
    row_col: Tensor = field(repr=False, default=None)
    row_target: Tensor = field(repr=False, default=None)
    col_ptr: Tensor = field(repr=False, default=None)
    col_row: Tensor = field(repr=False, default=None)
    col_source: Tensor = field(repr=False, default=None)
    transpose: Tensor = field(repr=False, default=None)
    _chunks: dict = field(repr=False, default_factory=dict)
    _indices: dict = field(repr=False, default_factory=dict)

    def indices(self, name: str, dtype: torch.dtype) -> Tensor:
        """The index array ``name`` (``row_col``, ``row_target``, ``col_row``, ``col_source``, ``transpose``) in
        ``dtype`` (a copy in another dtype is made once and kept)."""
        tensor = getattr(self, name)
        if dtype == tensor.dtype:
            return tensor
        key = (name, dtype)
        if key not in self._indices:
            self._indices[key] = tensor.to(dtype)
        return self._indices[key]

    def chunks(self, heads: int, chunk_size: int) -> tuple[list[tuple[int, int, int, int]], ...]:
        """Chunks ``(r0, r1, e0, e1)`` (rows r0 … r1 − 1 holding entries e0 … e1 − 1) of diag(A, …, A) and of
        diag(Aᵀ, …, Aᵀ) (``heads`` copies), each of about ``chunk_size`` entries (a row is never split). Cached per
        (heads, chunk_size): one host sync the first time, none when everything fits one chunk."""
        key = (heads, chunk_size)
        if key not in self._chunks:
            self._chunks[key] = tuple(self._bounds(ptr, heads, chunk_size) for ptr in (self.row_ptr, self.col_ptr))
        return self._chunks[key]

    def _bounds(self, ptr: Tensor, heads: int, chunk_size: int) -> list[tuple[int, int, int, int]]:
        rows, total = heads * self.num_nodes, heads * self.num_edges
        if total <= chunk_size:
            return [(0, rows, 0, total)]
        big = _block_diagonal_ptr(ptr, heads, self.num_edges)
        cuts = torch.searchsorted(big, torch.arange(chunk_size, total, chunk_size, device=ptr.device), right=True) - 1
        starts = sorted({0, rows, *cuts.tolist()})
        entries = big[starts].tolist()
        return [(r0, r1, e0, e1) for r0, r1, e0, e1 in zip(starts[:-1], starts[1:], entries[:-1], entries[1:])
                if r1 > r0]

    def __repr__(self) -> str:
        return f"CSRPlan(num_nodes={self.num_nodes}, num_edges={self.num_edges}, device={self.edge_index.device})"


def _build_csr_plan(edge_index: Tensor, num_nodes: int) -> CSRPlan:
    _check_graph(edge_index, num_nodes)
    source, target = edge_index
    order = torch.argsort(target * num_nodes + source, stable=True)
    row_col, row_target = source[order], target[order]
    del order
    transpose = torch.argsort(row_col * num_nodes + row_target, stable=True)
    small = max(num_nodes, edge_index.shape[1]) < 2 ** 31
    index = torch.int32 if small else torch.long

    def offsets(ids):
        ptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
        torch.cumsum(torch.bincount(ids, minlength=num_nodes), 0, out=ptr[1:])
        return ptr

    return CSRPlan(num_nodes, edge_index.detach().clone(), row_ptr=offsets(target), row_col=row_col.to(index),
                   row_target=row_target.to(index), col_ptr=offsets(source), col_row=row_target[transpose].to(index),
                   col_source=row_col[transpose].to(index), transpose=transpose.to(index))


#: CSR plans of the graphs seen last (shared by every layer)
CSR_PLANS = PlanCache(_build_csr_plan)


def csr_plan(edge_index: Tensor, num_nodes: int) -> CSRPlan:
    """The (cached) :class:`CSRPlan` of ``edge_index`` on ``num_nodes`` nodes; ``ValueError`` names node ids out of
    range."""
    return CSR_PLANS.get(edge_index, check_int(num_nodes, "num_nodes"))


def _block_diagonal_ptr(ptr: Tensor, heads: int, num_edges: int) -> Tensor:
    """Row offsets ``[heads·N + 1]`` of diag(A, …, A) from A's ``ptr`` ``[N + 1]``."""
    starts = (torch.arange(heads, device=ptr.device).unsqueeze(1) * num_edges + ptr[:-1]).reshape(-1)
    return torch.cat([starts, ptr.new_full((1,), heads * num_edges)])


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state" (once per process)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def _stacked(base: Tensor, shift: int, heads: int, e0: int, e1: int) -> Tensor:
    """Entries e0 … e1 − 1 of the concatenation of ``base + h·shift`` for h = 0 … heads − 1 (``[e1 − e0]``, the dtype
    of ``base``)."""
    length = base.numel()
    out = torch.empty(e1 - e0, dtype=base.dtype, device=base.device)
    for head in range(e0 // length, -(-e1 // length)):
        low, high = max(e0, head * length), min(e1, (head + 1) * length)
        torch.add(base[low - head * length:high - head * length], head * shift, out=out[low - e0:high - e0])
    return out


class _Chunk:
    """Rows r0 … r1 − 1 (entries e0 … e1 − 1) of diag(A, …, A) (or of diag(Aᵀ, …, Aᵀ)), ``heads`` copies of the
    N × N CSR matrix: its CSR index tensors, and for each entry the rows of the stacked ``[heads·N, d]`` operands
    that it joins (``rows``: its row, ``columns``: its column)."""

    def __init__(self, plan: CSRPlan, heads: int, bounds: tuple[int, int, int, int], transposed: bool):
        self.r0, self.r1, self.e0, self.e1 = bounds
        self.plan, self.heads, self.transposed = plan, heads, transposed
        n, e = plan.num_nodes, plan.num_edges
        self.index = torch.int32 if heads * max(n, e) < 2 ** 31 else torch.long
        ptr = plan.col_ptr if transposed else plan.row_ptr
        self.columns = _stacked(plan.indices("col_row" if transposed else "row_col", self.index), n, heads,
                                self.e0, self.e1)
        self.offsets = _block_diagonal_ptr(ptr, heads, e)[self.r0:self.r1 + 1] - self.e0
        self.crow = self.offsets.to(self.index)
        self.nnz = self.e1 - self.e0
        self.shape = (self.r1 - self.r0, heads * n)
        self._rows = None

    @property
    def rows(self) -> Tensor:
        """The stacked row (``[heads·N]`` index) of every entry ``[nnz]``."""
        if self._rows is None:
            base = self.plan.indices("col_source" if self.transposed else "row_target", self.index)
            self._rows = _stacked(base, self.plan.num_nodes, self.heads, self.e0, self.e1)
        return self._rows

    def matrix(self, values: Tensor) -> Tensor:
        return _csr(self.crow, self.columns, values, self.shape)

    def sampled(self, rows: Tensor, columns: Tensor, scale: float, out: Tensor | None = None) -> Tensor:
        """τ ⟨rows[r], columns[c]⟩ at every entry (r, c) of the chunk: ``[nnz]`` (a sampled dense-dense product),
        written in place into ``out`` (or a new tensor), zeroed first: ``beta = 0`` does not mask NaN in the
        pattern's values."""
        values = rows.new_zeros(self.nnz) if out is None else out.zero_()
        pattern = self.matrix(values)
        torch.sparse.sampled_addmm(pattern, rows[self.r0:self.r1], columns.T, beta=0.0, alpha=scale, out=pattern)
        return values

    def minus(self, values: Tensor, per_row: Tensor) -> Tensor:
        """``values[e] −= per_row[row of e]`` in place, ``per_row`` indexed by stacked rows ``[heads·N]``."""
        return values.sub_(per_row.index_select(0, self.rows))

    def segment(self, values: Tensor, reduce: str) -> Tensor:
        return torch.segment_reduce(values, reduce, offsets=self.offsets, axis=0, unsafe=True)

    def from_a(self, *values: Tensor) -> tuple[Tensor, ...]:
        """For a chunk of Aᵀ: its entries taken from arrays ``[heads·E]`` in A's order (``index_select``)."""
        plan = self.plan
        index = _stacked(plan.indices("transpose", self.index), plan.num_edges, self.heads, self.e0, self.e1)
        return tuple(v.index_select(0, index) for v in values)


def _chunks(plan: CSRPlan, heads: int, chunk_size: int, transposed: bool):
    """The chunks of diag(A, …) or diag(Aᵀ, …), one at a time (each one's index tensors live while it is used)."""
    for bounds in plan.chunks(heads, chunk_size)[int(transposed)]:
        yield _Chunk(plan, heads, bounds, transposed)


class _FusedSparseAttention(torch.autograd.Function):
    """o = softmax-by-row(τ q kᵀ on the graph) v for stacked heads ``[M·N, d]``; see the module docstring.

    Rows are processed in chunks of about ``chunk_size`` entries (every per-edge temporary has a chunk's size). The
    per-edge ex = exp(s − max) is kept for the backward when ``M·E ≤ save_limit``, else recomputed from q, k and the
    row maxima (then nothing of size E outlives a chunk).
    """

    @staticmethod
    def forward(ctx, query: Tensor, key: Tensor, value: Tensor, plan: CSRPlan, scale: float, chunk_size: int,
                save_limit: int):
        heads = query.shape[0] // plan.num_nodes
        out = torch.empty_like(value)
        maxima, totals = query.new_empty(query.shape[0]), query.new_empty(query.shape[0])
        kept = query.new_empty(heads * plan.num_edges) if heads * plan.num_edges <= save_limit else None
        for chunk in _chunks(plan, heads, chunk_size, transposed=False):
            rows = slice(chunk.r0, chunk.r1)
            ex = chunk.sampled(query, key, scale, None if kept is None else kept[chunk.e0:chunk.e1])  # s_e
            maxima[rows] = chunk.segment(ex, "max")
            chunk.minus(ex, maxima).exp_()  # ex_e = exp(s_e − max), in (0, 1]
            total = chunk.segment(ex, "sum").clamp_min_(1.0)  # ≥ 1 on every row with an edge (its maximum: e⁰)
            totals[rows] = total
            out[rows] = (chunk.matrix(ex) @ value).div_(total.unsqueeze(1))
            del chunk, ex
        ctx.plan, ctx.scale, ctx.chunk_size, ctx.heads = plan, scale, chunk_size, heads
        ctx.save_for_backward(query, key, value, out, maxima, totals, *(() if kept is None else (kept,)))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        query, key, value, out, maxima, totals, *kept = ctx.saved_tensors
        plan, scale, heads = ctx.plan, ctx.scale, ctx.heads
        grad_out = grad_out / totals.unsqueeze(1)  # do' = do / Σ ex
        delta = (grad_out * out).sum(1)  # D' = ⟨do', o⟩
        grad_query, grad_key, grad_value = torch.empty_like(query), torch.empty_like(key), torch.empty_like(value)
        saved = bool(kept)
        grad_scores = torch.empty_like(kept[0]) if saved else None
        for chunk in _chunks(plan, heads, ctx.chunk_size, transposed=False):  # rows = receivers i: dq
            rows = slice(chunk.r0, chunk.r1)
            if saved:
                ex = kept[0][chunk.e0:chunk.e1]
            else:  # recompute exp(s − max) from q and k
                ex = chunk.minus(chunk.sampled(query, key, scale), maxima).exp_()
            grad_score = chunk.sampled(grad_out, value, 1.0, None if not saved else grad_scores[chunk.e0:chunk.e1])
            chunk.minus(grad_score, delta).mul_(ex)  # ds = ex ⊙ (⟨do', v⟩ − D')
            grad_query[rows] = (chunk.matrix(grad_score) @ key).mul_(scale)
            del chunk, ex, grad_score
        for chunk in _chunks(plan, heads, ctx.chunk_size, transposed=True):  # rows = senders j: dk, dv
            rows = slice(chunk.r0, chunk.r1)
            if saved:  # the same entries in Aᵀ's order
                ex, grad_score = chunk.from_a(kept[0], grad_scores)
            else:  # recompute on Aᵀ: the receivers are the columns
                receivers = chunk.columns
                ex = chunk.sampled(key, query, scale).sub_(maxima.index_select(0, receivers)).exp_()
                grad_score = chunk.sampled(value, grad_out, 1.0).sub_(delta.index_select(0, receivers)).mul_(ex)
            grad_value[rows] = chunk.matrix(ex) @ grad_out
            grad_key[rows] = (chunk.matrix(grad_score) @ query).mul_(scale)
            del chunk, ex, grad_score
        return grad_query, grad_key, grad_value, None, None, None, None


def _stack_heads(query: Tensor, key: Tensor, value: Tensor, name: str) -> tuple[int, tuple[int, ...]]:
    """Check q, k, v ``[..., N, d]`` (same shapes, floating point, one device); return N and the leading shape."""
    tensors = {"query": query, "key": key, "value": value}
    for label, tensor in tensors.items():
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
            given = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
            raise TypeError(f"{name}: {label} must be a floating-point tensor [..., N, d], got {given}")
        if tensor.dim() < 2:
            raise ValueError(f"{name}: {label} must be a tensor [..., N, d], got shape {list(tensor.shape)}")
    if not query.shape == key.shape == value.shape:
        raise ValueError(f"{name}: query, key and value must have one shape [..., N, d] (self-attention on one graph), "
                         f"got {list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
    if not query.dtype == key.dtype == value.dtype or not query.device == key.device == value.device:
        raise TypeError(f"{name}: query, key and value must share dtype and device, got "
                        f"{[str(t.dtype) for t in tensors.values()]} on {[str(t.device) for t in tensors.values()]}")
    return query.shape[-2], tuple(query.shape[:-2])


def _resolve_plan(graph, num_nodes: int, cache: PlanCache, kind: type, name: str, *options):
    if isinstance(graph, kind):
        graph.check(None, num_nodes)
        return graph
    if isinstance(graph, _GraphPlan):
        raise TypeError(f"{name} needs an edge_index or a {kind.__name__}, got a {type(graph).__name__}")
    return cache.get(graph, num_nodes, *options)


def fused_sparse_attention(query: Tensor, key: Tensor, value: Tensor, graph: Tensor | CSRPlan, *,
                           scale: float | None = None, chunk_size: int | None = None,
                           save_limit: int | None = None) -> Tensor:
    """Multi-head dot-product attention over a graph, fused: no per-edge ``[E, H, d]`` tensor in forward or backward.

    Node i attends to the senders j of its incoming edges (a repeated edge counts once per copy; a node without
    incoming edges gets the empty sum, 0): the numbers of
    :class:`~gdl.graphs.transformer.EdgeSoftmaxAttention`, computed as sparse matrix products (module docstring).
    Differentiable in q, k and v (once: no double backward) with torch's sparse CSR kernels, which exist on the CPU
    and on CUDA (tested on the CPU). Runs in float32 or float64 (other floating dtypes are computed in float32 and
    cast back).

    Args:
        query, key, value: ``[..., N, d]`` (e.g. ``[B, H, N, d]``); every leading index is a separate head.
        graph: ``edge_index`` ``[2, E]`` (its :class:`CSRPlan` comes from :data:`CSR_PLANS`) or a :class:`CSRPlan`.
        scale: τ (default 1/√d).
        chunk_size: per-edge scalars handled at once (every per-edge temporary has this size at most, up to one row;
            ``None``: :data:`CHUNK_SIZE`).
        save_limit: keep ex = exp(s − max) ``[heads·E]`` for the backward up to this size, else recompute it there
            (``None``: :data:`SAVE_LIMIT`).

    Returns:
        ``[..., N, d]``.
    """
    num_nodes, leading = _stack_heads(query, key, value, "fused_sparse_attention")
    plan = _resolve_plan(graph, num_nodes, CSR_PLANS, CSRPlan, "fused_sparse_attention")
    if plan.edge_index.device != query.device:
        raise ValueError(f"fused_sparse_attention: the graph is on {plan.edge_index.device}, the inputs on "
                         f"{query.device}")
    dim = query.shape[-1]
    scale = 1.0 / math.sqrt(dim) if scale is None else float(scale)
    dtype = query.dtype if query.dtype in (torch.float32, torch.float64) else torch.float32
    q, k, v = (t.to(dtype).reshape(-1, dim).contiguous() for t in (query, key, value))
    if plan.num_edges == 0 or q.shape[0] == 0:
        out = v * 0.0 + (q.sum() + k.sum()) * 0.0  # the empty sum everywhere, connected to the inputs for autograd
    else:
        chunk_size = CHUNK_SIZE if chunk_size is None else check_int(chunk_size, "chunk_size")
        save_limit = SAVE_LIMIT if save_limit is None else check_int(save_limit, "save_limit", 0)
        with torch.autocast(q.device.type, enabled=False):  # torch's sparse CSR kernels have no bf16/fp16 on the CPU
            out = _FusedSparseAttention.apply(q, k, v, plan, scale, chunk_size, save_limit)
    return out.reshape(*leading, num_nodes, dim).to(query.dtype)


# -- GAT's attention, fused ----------------------------------------------------------------------------------------

class _FusedGATAttention(torch.autograd.Function):
    """o_i = Σ_e α_e v_j with α = softmax-by-row(LeakyReLU(a_j + b_i)) for stacked heads (a, b ``[M·N]``,
    v ``[M·N, C]``). The logits are gathers of per-node scores, so the backward recomputes them (nothing per-edge is
    saved); its per-edge gradient is dz_e = LeakyReLU'(z_e) · ex_e (⟨do'_i, v_j⟩ − D'_i), summed over each row for b
    and over each column (Aᵀ's rows) for a."""

    @staticmethod
    def forward(ctx, source_score: Tensor, target_score: Tensor, value: Tensor, plan: CSRPlan, slope: float,
                chunk_size: int):
        heads = value.shape[0] // plan.num_nodes
        out = torch.empty_like(value)
        maxima, totals = value.new_empty(value.shape[0]), value.new_empty(value.shape[0])
        for chunk in _chunks(plan, heads, chunk_size, transposed=False):
            rows = slice(chunk.r0, chunk.r1)
            ex = torch.nn.functional.leaky_relu(source_score.index_select(0, chunk.columns)
                                                + target_score.index_select(0, chunk.rows), slope)
            maxima[rows] = chunk.segment(ex, "max")
            chunk.minus(ex, maxima).exp_()
            totals[rows] = total = chunk.segment(ex, "sum").clamp_min_(1.0)
            out[rows] = (chunk.matrix(ex) @ value).div_(total.unsqueeze(1))
            del chunk, ex
        ctx.plan, ctx.slope, ctx.chunk_size, ctx.heads = plan, slope, chunk_size, heads
        ctx.save_for_backward(source_score, target_score, value, out, maxima, totals)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor):
        source_score, target_score, value, out, maxima, totals = ctx.saved_tensors
        plan, slope, heads = ctx.plan, ctx.slope, ctx.heads
        grad_out = grad_out / totals.unsqueeze(1)
        delta = (grad_out * out).sum(1)
        grad_source, grad_target, grad_value = (torch.empty_like(t) for t in (source_score, target_score, value))
        for transposed in (False, True):
            for chunk in _chunks(plan, heads, ctx.chunk_size, transposed=transposed):
                rows = slice(chunk.r0, chunk.r1)
                senders, receivers = (chunk.rows, chunk.columns) if transposed else (chunk.columns, chunk.rows)
                logit = source_score.index_select(0, senders) + target_score.index_select(0, receivers)
                ex = torch.nn.functional.leaky_relu(logit, slope).sub_(maxima.index_select(0, receivers)).exp_()
                if transposed:
                    grad = chunk.sampled(value, grad_out, 1.0)
                else:
                    grad = chunk.sampled(grad_out, value, 1.0)
                grad.sub_(delta.index_select(0, receivers)).mul_(ex)
                grad = torch.where(logit > 0, grad, grad * slope)  # through the LeakyReLU
                if transposed:
                    grad_source[rows] = chunk.segment(grad, "sum")
                    grad_value[rows] = chunk.matrix(ex) @ grad_out
                else:
                    grad_target[rows] = chunk.segment(grad, "sum")
                del chunk, ex, grad, logit
        return grad_source, grad_target, grad_value, None, None, None


def fused_gat_attention(source_score: Tensor, target_score: Tensor, value: Tensor, graph: Tensor | CSRPlan, *,
                        negative_slope: float = 0.2, chunk_size: int | None = None) -> Tensor:
    """GAT's attention (Veličković et al. 2018, book §5.3) as a sparse-dense product, without ``[E, H, C]`` messages.

    .. math::
        α_{ij} = \\operatorname{softmax}_{j ∈ N(i)} \\operatorname{LeakyReLU}(a_j + b_i), \\qquad
        o_i = \\sum_{j ∈ N(i)} α_{ij} v_j

    with per-node scores a_j = ⟨a_src, W x_j⟩, b_i = ⟨a_dst, W x_i⟩ and values v = W x (the numbers of
    :class:`~gdl.graphs.flavours.AttentionalLayer` with ``score="gat"`` on the graph after its edge policies).
    GATv2's score LeakyReLU(W_s x_j + W_t x_i)·a is not a sum of per-node terms, so it has no such fused form.

    Args:
        source_score, target_score: a and b ``[..., N]`` (e.g. ``[H, N]``).
        value: v ``[..., N, C]``.
        graph: ``edge_index`` ``[2, E]`` (as is: repeated edges count once per copy) or a :class:`CSRPlan`.
        negative_slope: of the LeakyReLU.
        chunk_size: per-edge scalars handled at once (``None``: :data:`CHUNK_SIZE`); nothing per-edge is kept.

    Returns:
        ``[..., N, C]``.
    """
    name = "fused_gat_attention"
    if not isinstance(value, Tensor) or not value.is_floating_point() or value.dim() < 2:
        raise TypeError(f"{name}: value must be a floating-point tensor [..., N, C], got "
                        f"{value.dtype if isinstance(value, Tensor) else type(value).__name__}")
    for label, score in (("source_score", source_score), ("target_score", target_score)):
        if not isinstance(score, Tensor) or score.shape != value.shape[:-1]:
            raise ValueError(f"{name}: {label} must have shape {list(value.shape[:-1])} (value's without its last "
                             f"axis), got {list(score.shape) if isinstance(score, Tensor) else type(score).__name__}")
    num_nodes, channels = value.shape[-2], value.shape[-1]
    plan = _resolve_plan(graph, num_nodes, CSR_PLANS, CSRPlan, name)
    dtype = value.dtype if value.dtype in (torch.float32, torch.float64) else torch.float32
    a, b = (t.to(dtype).reshape(-1).contiguous() for t in (source_score, target_score))
    v = value.to(dtype).reshape(-1, channels).contiguous()
    if plan.num_edges == 0 or v.shape[0] == 0:
        out = v * 0.0 + (a.sum() + b.sum()) * 0.0
    else:
        chunk_size = CHUNK_SIZE if chunk_size is None else check_int(chunk_size, "chunk_size")
        out = _FusedGATAttention.apply(a, b, v, plan, float(negative_slope), chunk_size)
    return out.reshape(value.shape).to(value.dtype)


# -- the block-sparse plan and FlexAttention --------------------------------------------------------------------------

def _power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


@dataclass(eq=False)
class BlockPlan(_GraphPlan):
    """A graph as a FlexAttention ``BlockMask``: blocks of ``block_size`` nodes and a bitmap read by the mask.

    Sizes are canonical, so that graphs of similar sizes share one compiled kernel: nodes are padded to
    ``padded_nodes`` (a power of two, at least :data:`MIN_PADDED_NODES` and two blocks; padded rows receive
    nothing, and their blocks are empty), band widths to a power of two.

    Attributes:
        layout: ``"band"`` (bitmap ``[N', W]`` of the offsets j − i − low, for graphs whose edges j → i have j − i
            in a range of W ≤ N'/8 values: windows, dilated windows, block-diagonal batches of small graphs) or
            ``"bitmap"`` (``[N', N']``, any graph).
        multigraph: some edge is repeated (the score of such a pair gains log(multiplicity): exact).
        num_blocks: blocks that hold an edge (FlexAttention visits only these); ``full_blocks``: those whose every
            entry is an edge (no mask read).
        density: distinct edges per entry of the stored blocks: the fraction of FlexAttention's work that is an
            edge (the fused path's work is E).
        mask_bytes: memory of the bitmap (and of the log-multiplicities of a multigraph).
    """

    block_size: int = 0
    padded_nodes: int = 0
    layout: str = "bitmap"
    multigraph: bool = False
    num_blocks: int = 0
    full_blocks: int = 0
    density: float = 0.0
    mask_bytes: int = 0
    _parts: dict = field(repr=False, default_factory=dict)
    _block_mask: object = field(repr=False, default=None)
    _score_mod: object = field(repr=False, default=None)

    @property
    def fits(self) -> bool:
        """Whether the bitmap stays within :data:`MASK_BYTES`."""
        return self.mask_bytes <= MASK_BYTES

    @property
    def signature(self) -> tuple:
        """What a compiled FlexAttention kernel depends on besides q, k, v: block size, padded size, bitmap width,
        multigraph or not."""
        return self.block_size, self.padded_nodes, self._parts["width"], self.multigraph

    def block_mask(self):
        """The ``BlockMask`` (built on first use, then kept); ``ValueError`` if the bitmap does not fit."""
        if self._block_mask is None:
            if not self.fits:
                raise ValueError(f"block_sparse: the graph's bitmap would take {self.mask_bytes / 2**20:.0f} MiB "
                                 f"(layout {self.layout!r}, {self.padded_nodes} padded nodes), more than "
                                 f"MASK_BYTES = {MASK_BYTES / 2**20:.0f} MiB: the graph is not structured enough for "
                                 f"this path; use path='fused_sparse'")
            self._block_mask, self._score_mod = _make_block_mask(self)
        return self._block_mask

    def score_mod(self):
        """``score + log(multiplicity)`` for a multigraph, else ``None`` (after :meth:`block_mask`)."""
        return self._score_mod

    def __repr__(self) -> str:
        return (f"BlockPlan(num_nodes={self.num_nodes}, num_edges={self.num_edges}, block_size={self.block_size}, "
                f"layout={self.layout!r}, blocks={self.num_blocks} ({self.full_blocks} full), "
                f"density={self.density:.2f}, multigraph={self.multigraph})")


def _build_block_plan(edge_index: Tensor, num_nodes: int, block_size: int, layout: str | None) -> BlockPlan:
    _check_graph(edge_index, num_nodes)
    size = block_size
    padded = max(MIN_PADDED_NODES, 2 * size, _power_of_two(num_nodes))
    keys, counts = torch.unique(edge_index[1] * num_nodes + edge_index[0], return_counts=True)
    target, source = keys // num_nodes, keys % num_nodes
    multigraph = bool(counts.numel()) and int(counts.max()) > 1
    offsets = source - target
    low, high = (int(offsets.min()), int(offsets.max())) if keys.numel() else (0, 0)
    width = min(padded, _power_of_two(max(high - low + 1, size)))
    if layout is None:
        layout = "band" if 8 * width <= padded else "bitmap"
    if layout == "band":
        shift = 1
    elif layout == "bitmap":
        shift, low, width = 0, 0, padded
    else:
        raise ValueError(f"layout must be one of (None, 'band', 'bitmap'), got {layout!r}")
    side = padded // size
    block_ids, per_block = torch.unique((target // size) * side + source // size, return_counts=True)
    full = per_block == size * size
    plan = BlockPlan(num_nodes, edge_index.detach().clone(), block_size=size, padded_nodes=padded, layout=layout,
                     multigraph=multigraph, num_blocks=block_ids.numel(), full_blocks=int(full.sum()),
                     density=keys.numel() / max(1, block_ids.numel() * size * size),
                     mask_bytes=padded * width * (5 if multigraph else 1))
    plan._parts.update(edges=(target, source, counts), blocks=(block_ids, full), shift=shift, low=low, width=width)
    return plan


#: block plans of the graphs seen last (shared by every layer)
BLOCK_PLANS = PlanCache(_build_block_plan)


def _block_size(block_size: int | None, device: torch.device) -> int:
    if block_size is None:
        return BLOCK_SIZE.get(device.type, DEFAULT_BLOCK_SIZE)
    return check_int(block_size, "block_size")


def block_plan(edge_index: Tensor, num_nodes: int, block_size: int | None = None,
               layout: str | None = None) -> BlockPlan:
    """The (cached) :class:`BlockPlan` of ``edge_index`` on ``num_nodes`` nodes (its ``BlockMask`` is built on first
    use). ``block_size``: ``None`` for the device's (:data:`BLOCK_SIZE`). ``layout``: ``None`` (band when the band
    is at most an eighth of the padded size, else bitmap), ``"band"`` or ``"bitmap"``. ``ValueError`` names node ids
    out of range."""
    device = edge_index.device if isinstance(edge_index, Tensor) else torch.device("cpu")
    return BLOCK_PLANS.get(edge_index, check_int(num_nodes, "num_nodes"), _block_size(block_size, device), layout)


def _block_lists(rows: Tensor, columns: Tensor, side: int) -> tuple[Tensor, Tensor]:
    """FlexAttention's ``kv_num_blocks`` ``[1, 1, n]`` and ``kv_indices`` ``[1, 1, n, n]`` of the blocks (rows,
    columns), given sorted by (row, column)."""
    device = rows.device
    number = torch.bincount(rows, minlength=side)
    first = torch.cumsum(number, 0) - number
    indices = torch.zeros(side, side, dtype=torch.int32, device=device)
    indices[rows, torch.arange(rows.numel(), device=device) - first[rows]] = columns.to(torch.int32)
    return number.to(torch.int32).view(1, 1, side), indices.view(1, 1, side, side)


def _make_block_mask(plan: BlockPlan):
    """The ``BlockMask`` of a plan and its ``score_mod`` (``None`` unless a multigraph).

    ``mask_mod(q, kv)`` reads ``table[q, kv − q·shift − low]`` (shift 1: band, 0: bitmap); ``shift`` and ``low``
    are tensors, so every graph with the same :attr:`BlockPlan.signature` runs the same compiled kernel.
    """
    from torch.nn.attention.flex_attention import BlockMask

    parts = plan._parts
    target, source, counts = parts.pop("edges")
    block_ids, full = parts.pop("blocks")
    device, size, padded, width = target.device, plan.block_size, plan.padded_nodes, parts["width"]
    shift, low = torch.tensor(parts["shift"], device=device), torch.tensor(parts["low"], device=device)
    column = source - target * parts["shift"] - parts["low"]
    table = torch.zeros(padded, width, dtype=torch.bool, device=device)
    table[target, column] = True

    def mask_mod(b, h, q_idx, kv_idx):
        offset = kv_idx - q_idx * shift - low
        return (offset >= 0) & (offset < width) & table[q_idx, offset.clamp(0, width - 1)]

    score_mod = None
    if plan.multigraph:
        log_counts = torch.zeros(padded, width, dtype=torch.float32, device=device)
        log_counts[target, column] = counts.to(torch.float32).log()

        def score_mod(score, b, h, q_idx, kv_idx):
            return score + log_counts[q_idx, (kv_idx - q_idx * shift - low).clamp(0, width - 1)].to(score.dtype)

    side = padded // size
    rows, columns = block_ids // side, block_ids % side
    kv_num, kv_indices = _block_lists(rows[~full], columns[~full], side)
    full_num, full_indices = _block_lists(rows[full], columns[full], side)
    mask = BlockMask.from_kv_blocks(kv_num, kv_indices, full_num, full_indices, BLOCK_SIZE=size, mask_mod=mask_mod,
                                    seq_lengths=(padded, padded), compute_q_blocks=device.type != "cpu")
    return mask, score_mod


_FLEX = None
_FLEX_LOCK = threading.Lock()
#: the kernel configurations compiled so far: (q shape, dtype, device, plan signature)
FLEX_COMPILED: set = set()


def _flex_limit() -> int:
    import torch._dynamo

    return int(getattr(torch._dynamo.config, "recompile_limit", getattr(torch._dynamo.config, "cache_size_limit", 8)))


def _compiled_flex_attention():
    """``torch.compile(flex_attention, dynamic=False)``, created once per process and shared by every graph.

    Static shapes: FlexAttention's CPU kernel does not compile with dynamic shapes in torch 2.13 (a C++ error), so a
    new configuration (see :data:`FLEX_COMPILED`) compiles anew; canonical padded sizes keep them few.
    """
    global _FLEX
    with _FLEX_LOCK:
        if _FLEX is None:
            from torch.nn.attention.flex_attention import flex_attention

            _FLEX = torch.compile(flex_attention, dynamic=False)
    return _FLEX


def block_sparse_attention(query: Tensor, key: Tensor, value: Tensor, graph: Tensor | BlockPlan, *,
                           scale: float | None = None, block_size: int | None = None) -> Tensor:
    """Multi-head dot-product attention over a structured graph through FlexAttention with the graph's block mask.

    The numbers of :func:`fused_sparse_attention` (repeated edges and nodes without incoming edges included),
    computed block by block: only blocks that hold an edge are visited, full blocks read no mask. The first call of
    a configuration (sizes, dtype, multigraph or not) compiles the kernel (about 5–10 s on a CPU).

    Args:
        query, key, value: ``[..., N, d]`` (e.g. ``[B, H, N, d]``); float32, float16 or bfloat16 on the CPU.
        graph: ``edge_index`` ``[2, E]`` (its :class:`BlockPlan` comes from :data:`BLOCK_PLANS`) or a
            :class:`BlockPlan`.
        scale: τ (default 1/√d).
        block_size: the block side when ``graph`` is an ``edge_index`` (``None``: the device's,
            :data:`BLOCK_SIZE`).

    Raises:
        NotImplementedError: gradients requested on the CPU (FlexAttention has no backward there).
        TypeError: float64 on the CPU.
        ValueError: a graph whose bitmap exceeds :data:`MASK_BYTES`, or a plan for another number of nodes.
        RuntimeError: a new configuration beyond torch's recompile limit (it would run uncompiled).
    """
    num_nodes, leading = _stack_heads(query, key, value, "block_sparse_attention")
    if query.device.type == "cpu":
        if torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value)):
            raise NotImplementedError(
                "block_sparse attention has no backward on the CPU (FlexAttention does not support backward on "
                "CPU): run it under torch.no_grad() or torch.inference_mode(), or use path='fused_sparse' (the "
                "same numbers, with a backward)")
        if query.dtype not in FLEX_DTYPES:
            raise TypeError(f"block_sparse attention runs in {[str(t) for t in FLEX_DTYPES]} on the CPU "
                            f"(FlexAttention), got {query.dtype}; use path='fused_sparse' for float64")
    plan = _resolve_plan(graph, num_nodes, BLOCK_PLANS, BlockPlan, "block_sparse_attention",
                         _block_size(block_size, query.device), None)
    if plan.edge_index.device != query.device:
        raise ValueError(f"block_sparse_attention: the graph is on {plan.edge_index.device}, the inputs on "
                         f"{query.device}")
    block_mask = plan.block_mask()
    dim = query.shape[-1]
    scale = 1.0 / math.sqrt(dim) if scale is None else float(scale)
    pad = plan.padded_nodes - num_nodes

    def heads(t):
        t = t.reshape(1, -1, num_nodes, dim)
        return torch.nn.functional.pad(t, (0, 0, 0, pad)) if pad else t

    query, key, value = heads(query), heads(key), heads(value)
    configuration = (tuple(query.shape), query.dtype, query.device, plan.signature)
    if configuration not in FLEX_COMPILED:
        if len(FLEX_COMPILED) >= _flex_limit():
            raise RuntimeError(f"block_sparse: FlexAttention is already compiled for {len(FLEX_COMPILED)} "
                               f"configurations (torch._dynamo.config.recompile_limit = {_flex_limit()}); a new one "
                               f"({configuration}) would run uncompiled: use path='fused_sparse' or raise the limit")
        FLEX_COMPILED.add(configuration)
    out = _compiled_flex_attention()(query, key, value, score_mod=plan.score_mod(), block_mask=block_mask, scale=scale)
    return out[:, :, :num_nodes].reshape(*leading, num_nodes, dim)


# -- which path ----------------------------------------------------------------------------------------------------

def choose_sparse_path(edge_index: Tensor, num_nodes: int, *, needs_grad: bool, attention_dropout: bool,
                       dtype: torch.dtype, device: torch.device) -> str:
    """The path ``path="auto"`` takes on a graph that is neither complete nor causal (those go to dense SDPA).

    The rule, cheap to evaluate (no host-device sync beyond a cached plan's verification):

    1. dropout on the attention weights active (training, dropout > 0): ``"message_passing"``, the only sparse path
       that drops coefficients;
    2. no gradient needed (``torch.no_grad()``, eval loops), a dtype FlexAttention runs in, N ≥
       :data:`BLOCK_SPARSE_MIN_NODES`, and the graph's block plan (cached per graph) has a density of at least
       :data:`BLOCK_SPARSE_MIN_DENSITY` with a bitmap that fits: ``"block_sparse"`` (FlexAttention; the first call
       compiles);
    3. otherwise ``"fused_sparse"`` (every graph, with a backward).

    Under ``torch.compile`` the rule is ``"message_passing"``: the per-edge path traces as one graph, while the fused
    and block-sparse paths keep their plans in Python-side caches that Dynamo cannot trace.
    """
    if attention_dropout or torch.compiler.is_compiling():
        return "message_passing"
    if (not needs_grad and dtype in FLEX_DTYPES and num_nodes >= BLOCK_SPARSE_MIN_NODES
            and len(FLEX_COMPILED) < _flex_limit()):
        plan = block_plan(edge_index, num_nodes)
        if plan.fits and plan.density >= BLOCK_SPARSE_MIN_DENSITY:
            return "block_sparse"
    return "fused_sparse"
