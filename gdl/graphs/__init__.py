"""Graphs and sets: the symmetric group S_n (book §4.1, §5.3–5.5).

* :mod:`gdl.graphs.base`: what the layers share: input checks, ``Nodewise`` (a map of every node alone), ``NodeDropout``.
* :mod:`gdl.graphs.networks`: the networks as blueprints: ``ConvolutionalGNN`` (GCN, GraphSAGE), ``AttentionalGNN``
  (GAT), ``MessagePassingGNN``, the graph-blind ``NodeMLP`` and a ``GraphTransformer``.
* :mod:`gdl.graphs.wrappers`: ``PyGModel``, any torch-geometric model with the S_N symmetry it claims, for the harness.
* :mod:`gdl.graphs.readout`: the invariant pooling of every graph of a batch (``GraphReadout``) and heads after it.
* :mod:`gdl.graphs.transformer`: ``TransformerGNNLayer``, attention as message passing, ⇄ ``nn.TransformerEncoderLayer``;
  ``TransformerGNN``, a stack of them on one attention graph.
* :mod:`gdl.graphs.gps`: ``GPSLayer`` (a local GNN flavour plus global attention, summed, then the feed-forward block;
  Rampášek et al. 2022) and ``GPS``, a node model of them with positional encodings.
* :mod:`gdl.graphs.builders`: attention graphs (complete, causal, window, dilated, global tokens + window).
* :mod:`gdl.graphs.positional`: sinusoidal, Laplacian-eigenvector and random-walk positional encodings.
* :mod:`gdl.graphs.flavours`: the convolutional, attentional and message-passing GNN layers (⇄ ``GCNConv``, ``GATConv``…).
* :mod:`gdl.graphs.expressivity`: GIN and 1-WL colour refinement.
* :mod:`gdl.graphs.egnn`: E(n)-equivariant GNN layers and model (Satorras et al. 2021).
* :mod:`gdl.graphs.sets`: Deep Sets, the invariant φ(⊕ψ(x_u)) and the equivariant set layer (Zaheer et al. 2017).
* :mod:`gdl.graphs.ign`: invariant and equivariant graph networks on k-tensors, from the solver's basis (Maron et al. 2019).
* :mod:`gdl.graphs.edges`: the self-loop / duplicate-edge policies shared by these layers.

S_n itself (``Permutations``, ``SetField``, ``GraphField``) lives in :mod:`gdl.symmetries` and is re-exported here.
Every layer reads the number of nodes from its inputs (``layer.field_types(x, edge_index, ...)``); networks are
:class:`~gdl.core.Blueprint` s whose context is the graph (``edge_index``, ``edge_attr``, ``batch``).
"""

from gdl.symmetries.permutations import EdgeIndexField, GraphField, Permutations, SetField

from .base import NodeDropout, Nodewise
from .builders import (
    causal_graph,
    complete_graph,
    dilated_graph,
    from_attention_mask,
    global_window_graph,
    to_attention_mask,
    window_graph,
)
from .egnn import EGNN, EGNNLayer
from .expressivity import GIN, GINLayer, wl_colour_refinement, wl_distinguishes, wl_histograms
from .flavours import AttentionalLayer, ConvolutionalLayer, MessagePassingLayer
from .gps import GPS, GPSLayer
from .ign import IGN, IGNLayer, TensorField
from .networks import AttentionalGNN, ConvolutionalGNN, GraphTransformer, MessagePassingGNN, NodeMLP
from .positional import LaplacianPE, RandomWalkPE, laplacian_eigenvectors, random_walk_encoding, sinusoidal_encoding
from .readout import GraphReadout, InvariantMLP
from .sets import DeepSets, EquivariantSetLayer, aggregate_set
from .transformer import TransformerGNN, TransformerGNNLayer
from .wrappers import PyGModel

__all__ = [
    "PyGModel",
    "Permutations", "SetField", "EdgeIndexField", "GraphField", "TransformerGNNLayer", "complete_graph",
    "causal_graph", "window_graph", "dilated_graph", "global_window_graph", "to_attention_mask",
    "from_attention_mask", "sinusoidal_encoding", "laplacian_eigenvectors", "LaplacianPE", "random_walk_encoding",
    "RandomWalkPE", "ConvolutionalLayer", "AttentionalLayer", "MessagePassingLayer", "GINLayer", "GIN",
    "wl_colour_refinement", "wl_histograms", "wl_distinguishes", "EGNNLayer", "EGNN", "DeepSets",
    "EquivariantSetLayer", "aggregate_set", "Nodewise", "NodeDropout", "GraphReadout", "InvariantMLP",
    "ConvolutionalGNN", "AttentionalGNN", "MessagePassingGNN", "NodeMLP", "GraphTransformer", "TransformerGNN",
    "IGNLayer", "IGN", "TensorField", "GPSLayer", "GPS",
]
