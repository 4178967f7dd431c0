"""Minimum-mapping-unit filter: drop connected patches smaller than an area.

Areas are summed from a true per-pixel area raster (pixel size varies with
latitude on geographic grids), not from pixel counts.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def _find(parent, i):
    """Root of label i, halving the path on the way (keeps trees shallow)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def _union(parent, i, j):
    """Merge the sets of labels i and j; the smaller root wins (order-free result)."""
    ri = _find(parent, i)
    rj = _find(parent, j)
    if ri < rj:
        parent[rj] = ri
    elif rj < ri:
        parent[ri] = rj


@numba.njit(cache=True)
def _join(parent, lab, neighbour):
    """Label for the current pixel after meeting a neighbour's label (0 = none)."""
    if neighbour == 0 or neighbour == lab:
        return lab
    if lab == 0:
        return neighbour
    _union(parent, lab, neighbour)
    return lab


@numba.njit(cache=True)
def mmu_filter(mask, pixel_area, min_area, eight_connected, out):
    """Set to 0 every patch of 1-pixels whose summed pixel_area < min_area.

    mask: uint8 (y, x) with 0 (no), 1 (yes), 255 (nodata); pixel_area: float64
    (y, x) in m^2; min_area: float (m^2); eight_connected: bool (8- vs
    4-connectivity); out: uint8 (y, x), may be the same array as mask.
    Values other than 1 pass through unchanged. Patch areas are summed in
    raster order; a patch with a NaN area compares False and is kept.

    Serial two-pass union-find labelling, O(n): pass 1 gives provisional
    labels and records equivalences, pass 2 resolves roots and sums areas,
    pass 3 writes out. Scratch: int32 labels (4 B/pixel) plus parent and
    area arrays per provisional label.
    """
    ny, nx = mask.shape
    if pixel_area.shape != mask.shape or out.shape != mask.shape:
        raise ValueError("mmu_filter: mask, pixel_area and out must have the same (y, x) shape")
    if ny * nx >= 2**31 - 1:
        raise ValueError("mmu_filter: block too large for int32 labels; split it")
    labels = np.zeros((ny, nx), np.int32)
    # A new label starts only where the west neighbour is not 1, so at most
    # ceil(nx / 2) new labels per row; label 0 is background.
    parent = np.empty(ny * ((nx + 1) // 2) + 1, np.int32)
    parent[0] = 0
    n_labels = 0

    for y in range(ny):
        for x in range(nx):
            if mask[y, x] != 1:
                continue
            lab = labels[y, x - 1] if x > 0 else 0
            if y > 0:
                lab = _join(parent, lab, labels[y - 1, x])
                if eight_connected:
                    if x > 0:
                        lab = _join(parent, lab, labels[y - 1, x - 1])
                    if x + 1 < nx:
                        lab = _join(parent, lab, labels[y - 1, x + 1])
            if lab == 0:
                n_labels += 1
                lab = n_labels
                parent[lab] = lab
            labels[y, x] = lab

    area = np.zeros(n_labels + 1, np.float64)
    for y in range(ny):
        for x in range(nx):
            lab = labels[y, x]
            if lab != 0:
                root = _find(parent, lab)
                labels[y, x] = root
                area[root] += pixel_area[y, x]

    for y in range(ny):
        for x in range(nx):
            v = mask[y, x]
            if v == 1 and area[labels[y, x]] < min_area:
                out[y, x] = 0
            else:
                out[y, x] = v
