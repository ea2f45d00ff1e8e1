"""Numba kernels of the lattice Boltzmann solver, generic over the velocity set: the fused
stream-collide sweep, the open-boundary (velocity or pressure) completion and a sponge.

Layout: populations ``f`` of shape ``(q, n_cells)`` over the C-ordered grid padded with
one ghost layer per side; ``flag`` (uint8, ``n_cells``) marks each padded cell
:data:`FLUID`, :data:`SOLID` (obstacle or wall ghost: half-way bounce-back) or
:data:`OPEN` (ghost of an open face: its populations are unknown). A padded flat index
``n`` has neighbour ``n + off[i]`` along ``c_i``.

Pull scheme: arrays hold post-collision populations; a sweep gathers
``f_i(x) = f*_i(x - c_i)`` (or ``f*_opp(i)(x)`` when ``x - c_i`` is solid), collides and
writes ``x`` only, so parallel sweeps never race. Collision is two-relaxation-time (TRT)
with rates ``omega_plus`` (viscosity) and ``omega_minus``; BGK is TRT with equal rates.
Blocks of consecutive cells are processed as short vectors in scratch arrays, with
three velocity components always (zeros beyond ``d``), so one code path serves 2D and 3D.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["FLUID", "SOLID", "OPEN", "stream_collide", "open_face", "sponge"]

FLUID = 0
SOLID = 1
OPEN = 2


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _gather(src, flag, base, length, off, opp, fl):
    for i in range(off.shape[0]):
        oi = off[i]
        io = opp[i]
        for k in range(length):
            n = base + k
            m = n - oi
            if flag[m] == SOLID:
                fl[i, k] = src[io, n]
            else:
                fl[i, k] = src[i, m]


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _moments(fl, length, c3, rho, u, incompressible):
    for k in range(length):
        rho[k] = 0.0
        u[0, k] = 0.0
        u[1, k] = 0.0
        u[2, k] = 0.0
    for i in range(fl.shape[0]):
        cx, cy, cz = c3[i, 0], c3[i, 1], c3[i, 2]
        for k in range(length):
            v = fl[i, k]
            rho[k] += v
            u[0, k] += cx * v
            u[1, k] += cy * v
            u[2, k] += cz * v
    for k in range(length):
        inv = 1.0 if incompressible else 1.0 / rho[k]
        u[0, k] *= inv
        u[1, k] *= inv
        u[2, k] *= inv


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _collide(fl, length, rho, u, c3, w, pairs, om_p, om_m, incompressible):
    """TRT collision in place on ``fl`` (q, length); index 0 is the rest population.

    Equilibrium ``w_i (rho + r (3 c.u + 9/2 (c.u)^2 - 3/2 u.u))`` with ``r = rho``, or
    ``r = 1`` for the incompressible model of He & Luo (1997).
    """
    w0 = w[0]
    for k in range(length):
        usq = u[0, k] * u[0, k] + u[1, k] * u[1, k] + u[2, k] * u[2, k]
        r = 1.0 if incompressible else rho[k]
        f0 = fl[0, k]
        fl[0, k] = f0 - om_p * (f0 - w0 * (rho[k] - 1.5 * r * usq))
    for p in range(pairs.shape[0]):
        i = pairs[p, 0]
        j = pairs[p, 1]
        wi = w[i]
        cx, cy, cz = c3[i, 0], c3[i, 1], c3[i, 2]
        for k in range(length):
            ux, uy, uz = u[0, k], u[1, k], u[2, k]
            cu = cx * ux + cy * uy + cz * uz
            usq = ux * ux + uy * uy + uz * uz
            wr = wi * (1.0 if incompressible else rho[k])
            eq_p = wi * rho[k] + wr * (4.5 * cu * cu - 1.5 * usq)
            eq_m = 3.0 * wr * cu
            a = fl[i, k]
            b = fl[j, k]
            fp = 0.5 * (a + b)
            fm = 0.5 * (a - b)
            fp -= om_p * (fp - eq_p)
            fm -= om_m * (fm - eq_m)
            fl[i, k] = fp + fm
            fl[j, k] = fp - fm


@numba.njit(cache=True, error_model="numpy", fastmath=True, parallel=True)
def stream_collide(src, dst, flag, span, block, tables, om_p, om_m, incompressible, chunks):
    """One fused pull-stream, bounce-back and TRT-collide sweep over the interior.

    The sweep covers the contiguous flat range ``span`` from the first to past the last
    interior cell, in blocks of ``block`` cells processed as short vectors. The range also
    holds the ghosts of axes other than x: wall ghosts (solid) are reset like solid cells,
    periodic ghosts are refilled before the next sweep, so updating them is harmless.

    Parameters
    ----------
    src, dst : ndarray, shape (q, n_cells)
        Post-collision populations at ``t`` (read) and ``t + 1`` (written).
    flag : ndarray of uint8, shape (n_cells,)
        Cell types; solid cells are reset to the rest equilibrium ``w_i``.
    span : tuple of int
        ``(start, stop)`` flat indices of the swept range.
    block : int
        Cells per block (scratch arrays of shape (q, block) stay in cache).
    tables : tuple
        ``(off, opp, c, c3, w, pairs)``: flat-index offset of each ``c_i`` (int64, q) and
        the velocity-set tables of :class:`~surrogates.solvers.lbm.lattice.Lattice`.
    om_p, om_m : float
        TRT relaxation rates of the even and odd parts.
    incompressible : bool
        He-Luo equilibrium (``u = j``) instead of the standard one (``u = j / rho``).
    chunks : int
        Number of parallel work items (groups of blocks sharing scratch arrays), e.g. a
        few per thread.
    """
    off, opp, c, c3, w, pairs = tables
    q = src.shape[0]
    start, stop = span
    n_blocks = (stop - start + block - 1) // block
    chunks = max(1, min(chunks, n_blocks))
    for ch in prange(chunks):
        fl = np.empty((q, block), dtype=src.dtype)
        rho = np.empty(block, dtype=src.dtype)
        u = np.empty((3, block), dtype=src.dtype)
        for b in range(ch * n_blocks // chunks, (ch + 1) * n_blocks // chunks):
            base = start + b * block
            length = min(block, stop - base)
            _gather(src, flag, base, length, off, opp, fl)
            _moments(fl, length, c3, rho, u, incompressible)
            _collide(fl, length, rho, u, c3, w, pairs, om_p, om_m, incompressible)
            for i in range(q):
                wi = w[i]
                for k in range(length):
                    n = base + k
                    dst[i, n] = wi if flag[n] == SOLID else fl[i, k]


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _complete_zou_he(fl, k, unknown, rho, r, u, c, w, opp, axis):
    """Zou-He / Hecht-Harting: ``f_i = f_opp + 6 w_i r c_i.u - sum_t c_it N_t`` with
    ``N_t = 1/2 sum_{c_j.n = 0} f_j c_jt - r u_t / 3`` (``r`` as in :func:`_collide`)."""
    q, d = c.shape
    for t in range(d):
        if t == axis:
            continue
        n_t = 0.0
        for j in range(q):
            if c[j, axis] == 0:
                n_t += 0.5 * fl[j, k] * c[j, t]
        n_t -= r * u[t, k] / 3.0
        for i in range(q):
            if unknown[i]:
                fl[i, k] -= c[i, t] * n_t
    for i in range(q):
        if unknown[i]:
            cu = 0.0
            for a in range(d):
                cu += c[i, a] * u[a, k]
            # the tangential corrections above were applied first; add the bounce-back part
            fl[i, k] += fl[opp[i], k] + 6.0 * w[i] * r * cu


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _regularize(fl, k, unknown, rho, r, u, c, w, opp, neq, pi):
    """Latt et al. (2008): rebuild ``f = f_eq + w_i / (2 cs^4) Q_i : Pi_neq`` from the
    knowns, with ``f_neq`` of unknown directions taken from their opposites."""
    q, d = c.shape
    usq = 0.0
    for a in range(d):
        usq += u[a, k] * u[a, k]
    for i in range(q):
        cu = 0.0
        for a in range(d):
            cu += c[i, a] * u[a, k]
        feq = w[i] * (rho + r * (3.0 * cu + 4.5 * cu * cu - 1.5 * usq))
        neq[i] = fl[i, k] - feq
        fl[i, k] = feq
    for i in range(q):
        if unknown[i]:
            neq[i] = neq[opp[i]]
    pi[:, :] = 0.0
    for i in range(q):
        for a in range(d):
            for b in range(d):
                pi[a, b] += c[i, a] * c[i, b] * neq[i]
    trace = 0.0
    for a in range(d):
        trace += pi[a, a]
    for i in range(q):
        qpi = 0.0
        for a in range(d):
            for b in range(d):
                qpi += c[i, a] * c[i, b] * pi[a, b]
        fl[i, k] += 4.5 * w[i] * (qpi - trace / 3.0)


@numba.njit(cache=True, error_model="numpy", fastmath=True, parallel=True)
def open_face(src, dst, flag, cells, values, face, tables, rates, incompressible, chunks):
    """Velocity or pressure condition on the first fluid layer of an open face.

    Parameters
    ----------
    src, dst : ndarray, shape (q, n_cells)
        As in :func:`stream_collide`; only ``dst[:, cells]`` is written.
    cells : ndarray of int64, shape (m,)
        Flat indices of the face's first interior layer.
    values : ndarray, shape (m, 3)
        Prescribed velocity (``velocity=True``); else column 0 is the prescribed density.
    face : tuple of int
        ``(axis, sign, velocity, regularized)``: normal axis; inward direction (+1 at the
        low end, -1 at the high end); velocity (1) or pressure (0) condition; regularised
        (1) or Zou-He (0) completion.
    tables, incompressible, chunks :
        As in :func:`stream_collide`.
    rates : tuple of float
        ``(omega_plus, omega_minus)``.
    """
    m = cells.shape[0]
    chunks = max(1, min(chunks, m))
    for ch in prange(chunks):
        lo, hi = ch * m // chunks, (ch + 1) * m // chunks
        _open_cells(src, dst, flag, cells[lo:hi], values[lo:hi], face, tables, rates,
                    incompressible)  # fmt: skip


@numba.njit(cache=True, error_model="numpy", fastmath=True)
def _open_cells(src, dst, flag, cells, values, face, tables, rates, incompressible):
    off, opp, c, c3, w, pairs = tables
    axis, sign, velocity, regularized = face
    q = src.shape[0]
    m = cells.shape[0]
    fl = np.empty((q, m), dtype=src.dtype)
    rho = np.empty(m, dtype=src.dtype)
    u = np.zeros((3, m), dtype=src.dtype)
    unknown = np.empty(q, dtype=np.bool_)
    neq = np.empty(q)
    pi = np.empty((3, 3))
    for k in range(m):
        n = cells[k]
        known_sum = 0.0
        for i in range(q):
            nb = n - off[i]
            unknown[i] = flag[nb] == OPEN
            fl[i, k] = src[opp[i], n] if flag[nb] == SOLID else src[i, nb]
            cn = c[i, axis] * sign
            if cn == 0:
                known_sum += fl[i, k]
            elif cn < 0:
                known_sum += 2.0 * fl[i, k]
        # mass and normal momentum: rho = known_sum + r u_n, with r = rho or 1
        if velocity:
            for a in range(3):
                u[a, k] = values[k, a]
            un = sign * u[axis, k]
            rho[k] = known_sum + un if incompressible else known_sum / (1.0 - un)
        else:
            rho[k] = values[k, 0]
            r = 1.0 if incompressible else rho[k]
            u[axis, k] = sign * (rho[k] - known_sum) / r
        r = 1.0 if incompressible else rho[k]
        if regularized:
            _regularize(fl, k, unknown, rho[k], r, u, c, w, opp, neq, pi)
        else:
            for i in range(q):
                if unknown[i]:
                    fl[i, k] = 0.0
            _complete_zou_he(fl, k, unknown, rho[k], r, u, c, w, opp, axis)
    _collide(fl, m, rho, u, c3, w, pairs, rates[0], rates[1], incompressible)
    for i in range(q):
        for k in range(m):
            dst[i, cells[k]] = fl[i, k]


@numba.njit(cache=True, error_model="numpy", fastmath=True, parallel=True)
def sponge(f, cells, strength, mean, rate, w, c3):
    """Damp density and momentum fluctuations in place.

    ``f_i += s w_i ((<rho> - rho) + 3 c_i . (<j> - j))``: the linear part of
    ``f_eq(<rho>, <j>) - f_eq(rho, j)``, so both halves of a sound wave are removed and
    nothing is reflected back; ``<.>`` (``mean``, updated here) are exponential running
    means with ``rate`` per step, so a steady flow is left unchanged.

    Parameters
    ----------
    f : ndarray, shape (q, n_cells)
        Post-collision populations.
    cells : ndarray of int64, shape (m,)
        Flat indices of the sponge cells.
    strength : ndarray, shape (m,)
        Damping per step, in [0, 1).
    mean : ndarray of float64, shape (m, 4)
        Running means of density and momentum (three components, zeros beyond ``d``).
    rate : float
        Update rate of the running means.
    w, c3 : ndarray, shape (q,) and (q, 3)
        Lattice weights and velocities padded to three components.
    """
    q = f.shape[0]
    for k in prange(cells.shape[0]):
        n = cells[k]
        rho = jx = jy = jz = 0.0
        for i in range(q):
            v = f[i, n]
            rho += v
            jx += c3[i, 0] * v
            jy += c3[i, 1] * v
            jz += c3[i, 2] * v
        s = strength[k]
        mean[k, 0] += rate * (rho - mean[k, 0])
        mean[k, 1] += rate * (jx - mean[k, 1])
        mean[k, 2] += rate * (jy - mean[k, 2])
        mean[k, 3] += rate * (jz - mean[k, 3])
        d0 = s * (mean[k, 0] - rho)
        dx = 3.0 * s * (mean[k, 1] - jx)
        dy = 3.0 * s * (mean[k, 2] - jy)
        dz = 3.0 * s * (mean[k, 3] - jz)
        for i in range(q):
            f[i, n] += w[i] * (d0 + c3[i, 0] * dx + c3[i, 1] * dy + c3[i, 2] * dz)
