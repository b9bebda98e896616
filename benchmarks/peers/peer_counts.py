"""Basis-dimension counts and timings from the peer libraries escnn and emlp.

Run with the *peer* environment's interpreter (see README.md in this folder):

    /work/peers-venv/bin/python benchmarks/peers/peer_counts.py

Prints one JSON object and writes it to peer_counts.json next to this file.
Each library section is {"installed", "version", "error", "results"}; a library
that fails to import gets installed=False and the exception text in "error".
Nothing here downloads anything (escnn's own check_equivariance, which fetches a
test image, is deliberately not used).
"""
import json
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "peer_counts.json")


def _err(e):
    return f"{type(e).__name__}: {e}"


# --------------------------------------------------------------------------- escnn
def run_escnn():
    sec = {"installed": False, "version": None, "error": None, "results": []}
    try:
        import escnn
        import numpy as np
        import torch
        from escnn import group, gspaces, nn
        from escnn.nn.modules.conv.r2convolution import _manual_fco1, compute_basis_params
    except Exception as e:  # noqa: BLE001
        sec["error"] = _err(e)
        sec["traceback"] = traceback.format_exc(limit=3)
        return sec
    sec["installed"] = True
    sec["version"] = escnn.__version__
    # escnn uses sklearn's randomized_svd whenever scikit-learn is importable; current
    # scikit-learn (pulled in by emlp) rejects the np.matrix escnn passes ("np.matrix is not
    # supported"). Fall back to escnn's own no-sklearn path (exact scipy.linalg.svd).
    import escnn.group._numerical as _escnn_num
    if _escnn_num.randomized_svd is not None:
        _escnn_num.randomized_svd = None
        sec["workaround"] = ("escnn.group._numerical.randomized_svd set to None (exact scipy SVD), "
                             "because scikit-learn>=1.x rejects np.matrix input")
    sec["deps"] = {"torch": torch.__version__, "numpy": np.__version__}
    res = sec["results"]

    # ---- default band limits used by R2Conv (frequencies_cutoff=None -> -1 -> _manual_fco1)
    for k in (5, 7):
        _, rings, sigma, maxf = compute_basis_params(k)
        fco = _manual_fco1(k // 2)
        res.append({
            "case": f"R2Conv default basis params, kernel_size={k}",
            "kind": "band_limits",
            "kernel_size": k,
            "rings": [float(r) for r in rings],
            "sigma": [float(s) for s in sigma],
            "max_frequency_per_ring": {str(float(r)): int(fco(r)) for r in rings},
            "maximum_frequency": int(maxf),
            "frequencies_cutoff_default": "-1 -> _manual_fco1(kernel_size//2): "
            "f(0)=0; f(r)=min(2r, 2 if r==max_radius else 2r-(r+1)%2)",
            "filter": "keep basis element iff |irrep:frequency| <= f(radius)",
        })

    def count(gs_name, gs, fin, fout, fin_name, fout_name, k):
        tin = nn.FieldType(gs, [fin])
        tout = nn.FieldType(gs, [fout])
        t0 = time.perf_counter()
        conv = nn.R2Conv(tin, tout, kernel_size=k, padding=k // 2)
        dt = time.perf_counter() - t0
        info = list(conv.basisexpansion.get_basis_info())
        per_ring = {}
        per_freq = {}
        for d in info:
            r = str(float(d["radius"]))
            per_ring[r] = per_ring.get(r, 0) + 1
            f = str(int(d["irrep:frequency"]))
            per_freq[f] = per_freq.get(f, 0) + 1
        res.append({
            "case": f"{gs_name} {fin_name}->{fout_name} k={k}",
            "kind": "R2Conv_basis_dim",
            "gspace": gs_name,
            "in": fin_name, "out": fout_name,
            "in_size": tin.size, "out_size": tout.size,
            "kernel_size": k,
            "basis_dim": int(conv.basisexpansion.dimension()),
            "weights_len": int(conv.weights.numel()),
            "rings": [float(r) for r in conv._rings],
            "maximum_frequency": int(conv._maximum_frequency),
            "dim_per_ring": per_ring,
            "dim_per_harmonic_frequency": per_freq,
            "build_s": round(dt, 4),
        })

    for k in (5, 7):
        for N in (4, 8, 16):
            gs = gspaces.rot2dOnR2(N)
            G = gs.fibergroup
            name = f"rot2dOnR2({N}) [C{N}]"
            count(name, gs, gs.regular_repr, gs.regular_repr, "regular", "regular", k)
            count(name, gs, gs.trivial_repr, gs.regular_repr, "trivial", "regular", k)
            count(name, gs, G.irrep(1), G.irrep(1), "irrep(1)", "irrep(1)", k)
        for N in (4, 8):
            gs = gspaces.flipRot2dOnR2(N)
            count(f"flipRot2dOnR2({N}) [D{N}]", gs, gs.regular_repr, gs.regular_repr,
                  "regular", "regular", k)
        gs = gspaces.rot2dOnR2(-1, maximum_frequency=4)
        G = gs.fibergroup
        name = "rot2dOnR2(-1, maximum_frequency=4) [SO(2)]"
        for a, b in ((0, 1), (1, 1), (1, 2)):
            count(name, gs, G.irrep(a), G.irrep(b), f"irrep({a})", f"irrep({b})", k)
        gs = gspaces.flipRot2dOnR2(-1, maximum_frequency=4)
        G = gs.fibergroup
        count("flipRot2dOnR2(-1, maximum_frequency=4) [O(2)]", gs, G.irrep(1, 1), G.irrep(1, 1),
              "irrep(1,1)", "irrep(1,1)", k)

    # ---- equivariance error of one R2Conv, C8 regular->regular, k=5
    try:
        torch.manual_seed(0)
        gs = gspaces.rot2dOnR2(8)
        t = nn.FieldType(gs, [gs.regular_repr] * 2)
        conv = nn.R2Conv(t, t, kernel_size=5, padding=2)
        dtype = torch.float64
        try:
            conv = conv.to(dtype)
        except Exception:  # noqa: BLE001
            dtype = torch.float32
        conv.eval()
        H = 33
        yy, xx = np.mgrid[0:H, 0:H]
        c = (H - 1) / 2
        disk = torch.from_numpy(((yy - c) ** 2 + (xx - c) ** 2) < 12 ** 2)

        def eq_err(xt, elem):
            x = nn.GeometricTensor(xt, t)
            with torch.no_grad():
                y = conv(x)
                a = conv(x.transform(elem)).tensor  # f(g x)
                b = y.transform(elem).tensor        # g f(x)
            d = (a - b).abs()[..., disk]
            ref = b.abs()[..., disk].max()
            return float(d.max() / ref), float(d.mean() / b.abs()[..., disk].mean())

        x_white = torch.randn(1, t.size, H, H, dtype=dtype)
        # a smooth (band-limited) input: white noise blurred with a Gaussian (sigma=2 px)
        g1 = torch.exp(-torch.arange(-6, 7, dtype=dtype) ** 2 / (2 * 2.0 ** 2))
        g1 = g1 / g1.sum()
        xs = torch.nn.functional.conv2d(
            torch.nn.functional.pad(torch.randn(1, t.size, H, H, dtype=dtype), (6, 6, 6, 6), mode="reflect")
            .reshape(t.size, 1, H + 12, H + 12), g1.view(1, 1, 1, -1))
        xs = torch.nn.functional.conv2d(xs, g1.view(1, 1, -1, 1)).reshape(1, t.size, H, H)
        G = gs.fibergroup
        for label, xt in (("white-noise input", x_white), ("smooth input (Gaussian blur sigma=2px)", xs)):
            for kk, deg in ((1, 45), (2, 90)):
                mx, mean = eq_err(xt, G.element(kk))
                res.append({
                    "case": f"equivariance C8 regular->regular k=5, {deg} deg, {label}",
                    "kind": "equivariance_error",
                    "input_shape": [1, t.size, H, H],
                    "dtype": str(dtype).replace("torch.", ""),
                    "rotation_deg": deg,
                    "region": "central disk radius < 12 px (output 33x33, padding=2)",
                    "transform": "GeometricTensor.transform(g) (scipy spline interpolation, order 2)",
                    "max_abs_err_over_max_abs_out": mx,
                    "mean_abs_err_over_mean_abs_out": mean,
                    "requested": (deg == 45 and label.startswith("white")),
                })
    except Exception as e:  # noqa: BLE001
        res.append({"case": "equivariance C8 k=5", "error": _err(e)})

    # ---- optional: escnn.nn.Linear between (band-limited) regular reps / irreps of SO(3), O(3)
    try:
        for gname, G in (("SO(3)", group.so3_group(2)), ("O(3)", group.o3_group(2))):
            gs = gspaces.no_base_space(G)
            if gname == "SO(3)":
                irreps = {"irrep(1)": G.irrep(1), "irrep(2)": G.irrep(2)}
            else:
                irreps = {"irrep(1,1) [vector]": G.irrep(1, 1), "irrep(0,2) [l=2 even]": G.irrep(0, 2)}
            reg = ("bl_regular(L=2)", G.bl_regular_representation(2))
            pairs = [(reg, reg)] + [((n, r), (n, r)) for n, r in irreps.items()] + \
                    [((n, r), reg) for n, r in irreps.items()]
            for (ni, ri), (no, ro) in pairs:
                lin = nn.Linear(nn.FieldType(gs, [ri]), nn.FieldType(gs, [ro]))
                res.append({
                    "case": f"Linear {gname} {ni}->{no}",
                    "kind": "Linear_basis_dim",
                    "group": gname, "in": ni, "out": no,
                    "in_size": ri.size, "out_size": ro.size,
                    "basis_dim": int(lin.basisexpansion.dimension()),
                })
    except Exception as e:  # noqa: BLE001
        res.append({"case": "Linear SO(3)/O(3)", "error": _err(e)})
    return sec


# --------------------------------------------------------------------------- emlp
def run_emlp():
    sec = {"installed": False, "version": None, "error": None, "results": []}
    try:
        import emlp
        import jax
        import numpy as np
        from emlp.groups import SO, Lorentz, O, S
        from emlp.reps import Rep, Scalar, V
    except Exception as e:  # noqa: BLE001
        sec["error"] = _err(e)
        sec["traceback"] = traceback.format_exc(limit=3)
        return sec
    sec["installed"] = True
    sec["version"] = getattr(emlp, "__version__", None)
    deps = {"jax": jax.__version__, "numpy": np.__version__}
    for m in ("jaxlib", "objax", "plum", "optax"):
        try:
            mod = __import__(m)
            deps[m] = getattr(mod, "__version__", "?")
        except Exception as e:  # noqa: BLE001
            deps[m] = _err(e)
    sec["deps"] = deps
    sec["naming"] = ("V = base (vector) rep; V.T = dual (covariant); V**k = k-fold tensor power; "
                     "T(p,q) = V**p * V.T**q; A>>B = linear maps A->B (= B*A.T); "
                     "A+B direct sum; Scalar = T(0). rep(G) makes it concrete; "
                     "for orthogonal groups V.T == V. equivariant_basis() -> (dim(A>>B), r). "
                     "jax default float32; emlp's SVD rank cutoff 1e-5.")
    res = sec["results"]

    cases = [
        ("S(5)", S(5), "T(1)->T(1)", V >> V, 2),
        ("S(5)", S(5), "T(2)->T(2)", V ** 2 >> V ** 2, 15),
        ("S(5)", S(5), "T(1)->T(0)", V >> Scalar, 1),
        ("S(5)", S(5), "T(2)->T(0)", V ** 2 >> Scalar, 2),
        ("S(5)", S(5), "T(3)->T(0)", V ** 3 >> Scalar, 5),
        ("O(3)", O(3), "T(2)->T(0)", V ** 2 >> Scalar, 1),
        ("O(3)", O(3), "T(4)->T(0)", V ** 4 >> Scalar, 3),
        ("O(3)", O(3), "V**2->V**2", V ** 2 >> V ** 2, 3),
        ("O(3)", O(3), "T(3)->T(0)", V ** 3 >> Scalar, 0),
        ("SO(3)", SO(3), "T(2)->T(0)", V ** 2 >> Scalar, 1),
        ("SO(3)", SO(3), "T(4)->T(0)", V ** 4 >> Scalar, 3),
        ("SO(3)", SO(3), "V**2->V**2", V ** 2 >> V ** 2, 3),
        ("SO(3)", SO(3), "T(3)->T(0)", V ** 3 >> Scalar, 1),
        ("Lorentz() [O(1,3)]", Lorentz(), "T(0,2)->T(0) (V.T**2)", V.T ** 2 >> Scalar, 1),
        ("Lorentz() [O(1,3)]", Lorentz(), "T(2,2)->T(0) (V**2*V.T**2)", V ** 2 * V.T ** 2 >> Scalar, 3),
        ("O(5)", O(5), "V+V->T(0) (linear)", (V + V) >> Scalar, 0),
        ("O(5)", O(5), "(V+V)**2->T(0) (quadratic, full tensor square)", (V + V) ** 2 >> Scalar, 4),
    ]
    for gname, G, name, rep, expect in cases:
        row = {"case": f"{gname} {name}", "kind": "equivariant_basis", "group": gname, "rep": name,
               "expected": expect}
        try:
            r = rep(G)

            def solve(r=r):
                Q = r.equivariant_basis()
                if not hasattr(Q, "__array__") and hasattr(Q, "to_dense"):
                    # SumRep/ProductRep return a lazy LinearOperator: densify so the work is done
                    Q = Q.to_dense()
                return np.asarray(Q)  # also waits for jax's async dispatch

            Rep.solcache.clear()
            t0 = time.perf_counter()
            Q = solve()  # first call: includes jit compilation of the solver
            t_cold = time.perf_counter() - t0
            Rep.solcache.clear()  # warm-up done; re-solve without emlp's solution cache
            t0 = time.perf_counter()
            Q = solve()
            t_warm = time.perf_counter() - t0
            shape = [int(n) for n in Q.shape]
            row.update({"concrete_rep": str(r), "shape": shape, "basis_dim": shape[1],
                        "matches_expected": shape[1] == expect,
                        "solve_s_first": round(t_cold, 4), "solve_s_after_warmup": round(t_warm, 4)})
            canon = r.canonicalize()[0]
            if hasattr(canon, "G"):
                C = canon.constraint_matrix()
                # emlp switches to its Krylov solver when the constraint has > 3e7 entries
                row["solver"] = "krylov" if C.shape[0] * C.shape[1] > 3e7 else "dense SVD"
                row["constraint_shape"] = [int(n) for n in C.shape]
            else:
                row["solver"] = f"{type(r).__name__}: solved per summand/factor, lazy result"
        except Exception as e:  # noqa: BLE001
            row["error"] = _err(e)
        res.append(row)
    return sec


def main():
    out = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "interpreter": sys.executable,
        "escnn": run_escnn(),
        "emlp": run_emlp(),
    }
    s = json.dumps(out, indent=1)
    print(s)
    with open(OUT, "w") as f:
        f.write(s + "\n")


if __name__ == "__main__":
    main()
