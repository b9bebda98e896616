"""S_n and SO(n) ⊂ O(n) ⊂ E(n): group laws, actions as homomorphisms, subgroups, bad input."""

import pytest
import torch
from torch_geometric.data import Data

from gdl.core import ProductField, RecordField
from gdl.graphs import EdgeIndexField, GraphField, Permutations, SetField
from gdl.groups import Euclidean, Orthogonal, PointField, SpecialOrthogonal, VectorField, random_rotation_matrices

GROUPS = [Permutations(6), SpecialOrthogonal(3), Orthogonal(3), Euclidean(3), Euclidean(2), Orthogonal(5)]


@pytest.mark.parametrize("group", GROUPS, ids=repr)
def test_group_axioms(group, generator):
    a, b, c = group.sample(3, generator)
    e = group.identity()
    assert (a * b) * c == a * (b * c)
    assert a * e == a and e * a == a
    assert a * a.inverse() == e
    assert not a == b


def _graph(generator, n=6):
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 0, 3]])
    return Data(x=torch.randn(n, 3, generator=generator), pos=torch.randn(n, 3, generator=generator),
                edge_index=edge_index, edge_attr=torch.randn(7, 2, generator=generator), y=torch.tensor([0.5]))


def _close(a, b):
    if isinstance(a, Data):
        return all(_close(a[k], b[k]) for k in a.keys()) and sorted(a.keys()) == sorted(b.keys())
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-12)


@pytest.mark.parametrize("case", ["set", "edges", "graph", "points", "vectors", "record", "product"])
def test_actions_are_homomorphisms(case, generator):
    """ρ(a)ρ(b)x = ρ(ab)x and ρ(e)x = x for every field type."""
    S, E = Permutations(6), Euclidean(3)
    field, value = {
        "set": (SetField(S), torch.randn(2, 6, 4, generator=generator)),
        "edges": (EdgeIndexField(S), torch.randint(0, 6, (2, 9), generator=generator)),
        "graph": (GraphField(S, node_channels=3, edge_channels=2), _graph(generator)),
        "points": (PointField(E), torch.randn(6, 3, generator=generator, dtype=torch.float64)),
        "vectors": (VectorField(Orthogonal(3)), torch.randn(6, 3, generator=generator, dtype=torch.float64)),
        "record": (RecordField({"pos": PointField(E)}), _graph(generator).apply(lambda t: t.double() if t.is_floating_point() else t)),
        "product": (ProductField((GraphField(S), RecordField({"pos": PointField(E)}))), _graph(generator).apply(
            lambda t: t.double() if t.is_floating_point() else t)),
    }[case]
    a, b = field.group.sample(2, generator)
    assert _close(field.transform(field.transform(value, b), a), field.transform(value, a * b))
    assert _close(field.transform(value, field.group.identity()), value)


def test_graph_permutation_relabels_consistently(generator):
    graph = _graph(generator)
    g = Permutations(6).sample(1, generator)[0]
    moved = GraphField(Permutations(6)).transform(graph, g)
    assert torch.equal(moved.x[moved.edge_index], graph.x[graph.edge_index])  # every edge joins the same features
    assert torch.equal(moved.edge_attr, graph.edge_attr) and torch.equal(moved.y, graph.y)
    assert torch.equal(moved.pos, graph.pos[g.data])


def test_rotations_are_haar_and_rigid_motions_preserve_distances(generator):
    rotations = random_rotation_matrices(4000, 3, generator)
    assert torch.allclose(torch.linalg.det(rotations), torch.ones(4000, dtype=torch.float64))
    assert rotations.mean(0).abs().max() < 0.05  # E[R] = 0 under the Haar measure
    dets = torch.stack([torch.linalg.det(g.data) for g in Orthogonal(3).sample(400, generator)])
    assert 0.4 < (dets < 0).double().mean() < 0.6
    x = torch.randn(10, 3, dtype=torch.float64, generator=generator)
    moved = PointField(Euclidean(3)).transform(x, Euclidean(3).sample(1, generator)[0])
    assert torch.allclose(torch.cdist(moved, moved), torch.cdist(x, x), atol=1e-12)


def test_subgroups():
    assert SpecialOrthogonal(3).is_subgroup_of(Orthogonal(3)) and Orthogonal(3).is_subgroup_of(Euclidean(3))
    assert not Orthogonal(3).is_subgroup_of(SpecialOrthogonal(3))
    assert Euclidean(3).intersection(SpecialOrthogonal(3)) == SpecialOrthogonal(3)
    assert Permutations(4).elements()[0] == Permutations(4).identity() and len(Permutations(4).elements()) == 24
    reflection = Orthogonal(3).element(torch.diag(torch.tensor([-1.0, 1.0, 1.0])))
    assert not SpecialOrthogonal(3).contains(reflection) and Euclidean(3).contains(reflection)


class TestBadInput:
    def test_not_a_permutation(self):
        with pytest.raises(ValueError, match=r"rearrangement of 0..3, got \[0, 0, 1, 2\]"):
            Permutations(4).element([0, 0, 1, 2])

    def test_wrong_number_of_nodes(self, generator):
        with pytest.raises(ValueError, match="the graph has 6 elements but the group is Permutations\\(n=5\\)"):
            GraphField(Permutations(5)).validate(_graph(generator))
        with pytest.raises(ValueError, match="set axis .* has 3 elements"):
            SetField(Permutations(4)).validate(torch.zeros(2, 3, 5))

    def test_edge_index_out_of_range(self):
        with pytest.raises(ValueError, match="refers to nodes 0..7, but the graph has 6 nodes"):
            EdgeIndexField(Permutations(6)).validate(torch.tensor([[0, 7], [1, 2]]))
        with pytest.raises(TypeError, match="int64 tensor"):
            EdgeIndexField(Permutations(6)).validate(torch.tensor([[0.0, 1.0], [1.0, 2.0]]))

    def test_not_orthogonal(self):
        with pytest.raises(ValueError, match="not orthogonal"):
            Orthogonal(3).element(torch.eye(3) * 2)
        with pytest.raises(ValueError, match="reflection"):
            SpecialOrthogonal(3).element(-torch.eye(3))

    def test_wrong_vector_dimension(self):
        with pytest.raises(ValueError, match=r"vectors in R\^3: a tensor \[..., 3\], got shape \[5, 2\]"):
            PointField(Euclidean(3)).validate(torch.zeros(5, 2))

    def test_element_of_another_group(self, generator):
        with pytest.raises(TypeError, match=r"expected an element of E\(3\), got Permutations"):
            PointField(Euclidean(3)).transform(torch.zeros(5, 3), Permutations(5).identity())
        with pytest.raises(TypeError, match=r"expected an element of SO\(3\), got O\(3\)"):
            VectorField(SpecialOrthogonal(3)).transform(torch.zeros(5, 3), Orthogonal(3).element(-torch.eye(3)))

    def test_record_needs_its_entries(self):
        with pytest.raises(ValueError, match="expects an entry 'pos'"):
            RecordField({"pos": PointField()}).validate({"x": torch.zeros(2, 3)})
