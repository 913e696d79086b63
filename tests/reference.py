"""Slow, obviously correct NumPy (float64 where it matters) versions of each kernel.

These are the independent references the kernel tests compare against, next to OpenCV.
They follow the textbook definitions, not facecore's code: loops over windows, explicit
neighbourhood sums, the sRGB / CIE Lab formulas in double precision.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------------------- warp


def warp_affine(image, M, shape, *, border="constant", fill=0.0, inverse=False):
    """Bilinear warp in float64 (pixel centres at integers); returns float64."""
    h, w = shape
    A = np.vstack([np.asarray(M, np.float64), [0, 0, 1]])
    if not inverse:
        A = np.linalg.inv(A)
    img = np.asarray(image, np.float64)
    if img.ndim == 2:
        img = img[..., None]
    H, W, C = img.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = A[0, 0] * xs + A[0, 1] * ys + A[0, 2]
    sy = A[1, 0] * xs + A[1, 1] * ys + A[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = (sx - x0)[..., None]
    fy = (sy - y0)[..., None]
    fillv = np.broadcast_to(np.asarray(fill, np.float64), (C,))

    def at(yy, xx):
        if border == "replicate":
            return img[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)]
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        v = img[np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)]
        return np.where(inside[..., None], v, fillv)

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bot = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    out = top * (1 - fy) + bot * fy
    return out if np.ndim(image) == 3 else out[..., 0]


# ------------------------------------------------------------------------- windows


def extract_windows(image, window, stride, mean=0.0, std=1.0, swap_rb=False):
    """All windows, (count, C, wh, ww) float32, by an explicit loop over the grid."""
    img = image if image.ndim == 3 else image[..., None]
    if swap_rb:
        img = img[..., [2, 1, 0] + list(range(3, img.shape[2]))]
    wh, ww = window
    sy, sx = stride
    H, W, C = img.shape
    out = []
    for y in range(0, H - wh + 1, sy):
        for x in range(0, W - ww + 1, sx):
            win = img[y : y + wh, x : x + ww].astype(np.float32)
            out.append(((win - np.float32(mean)) / np.float32(std)).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def accumulate_mean(scores, image_shape, window, stride, fill=0.0):
    """Mean of the covering windows' scores, by adding every window into the map (float64)."""
    H, W = image_shape[:2]
    wh, ww = window
    sy, sx = stride
    total = np.zeros((H, W))
    count = np.zeros((H, W))
    gh, gw = scores.shape
    for i in range(gh):
        for j in range(gw):
            total[i * sy : i * sy + wh, j * sx : j * sx + ww] += scores[i, j]
            count[i * sy : i * sy + wh, j * sx : j * sx + ww] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), fill)


def accumulate_centre(scores, image_shape, window, stride):
    """Bilinear interpolation between window centres (edges replicated), float64."""
    H, W = image_shape[:2]
    wh, ww = window
    sy, sx = stride
    gh, gw = scores.shape
    cy = (np.arange(gh) * sy + (wh - 1) / 2.0)
    cx = (np.arange(gw) * sx + (ww - 1) / 2.0)
    rows = np.stack([np.interp(np.arange(W), cx, scores[i].astype(np.float64)) for i in range(gh)])
    return np.stack([np.interp(np.arange(H), cy, rows[:, x]) for x in range(W)], axis=1)


# -------------------------------------------------------------------------- refine


def refine(p, power, kernel, iterations=1):
    """Sharpen then correlate with replicate borders, float64, clipped."""
    p = np.asarray(p, np.float64)
    k = np.asarray(kernel, np.float64)
    rh, rw = k.shape[0] // 2, k.shape[1] // 2
    for _ in range(iterations):
        s = 1.0 - (1.0 - np.clip(np.nan_to_num(p, nan=0.0), 0, 1)) ** power
        padded = np.pad(s, ((rh, rh), (rw, rw)), mode="edge")
        out = np.zeros_like(s)
        for i in range(k.shape[0]):
            for j in range(k.shape[1]):
                out += k[i, j] * padded[i : i + s.shape[0], j : j + s.shape[1]]
        p = np.clip(out, 0, 1)
    return p


# --------------------------------------------------------------------------- blend


def blend(base, effect, alpha):
    """float32, in the documented order, rounded half up (the kernel's exact contract)."""
    a = np.clip(np.nan_to_num(alpha, nan=0.0), 0, 1).astype(np.float32)
    if base.ndim == 3:
        a = a[..., None]
    v = (np.float32(1) - a) * base.astype(np.float32) + a * effect.astype(np.float32)
    return np.clip(np.floor(v + np.float32(0.5)), 0, 255).astype(np.uint8)


_M = np.array([[0.412453, 0.357580, 0.180423],
               [0.212671, 0.715160, 0.072169],
               [0.019334, 0.119193, 0.950227]])
_WHITE = np.array([0.950456, 1.0, 1.088754])


def _to_linear(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(c):
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def bgr_to_lab(bgr):
    """uint8 BGR -> CIE Lab (float64), sRGB D65 as OpenCV defines it."""
    rgb = _to_linear(bgr[..., ::-1].astype(np.float64) / 255.0)
    xyz = rgb @ _M.T / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    L = np.where(xyz[..., 1] > 0.008856, 116 * f[..., 1] - 16, 903.3 * xyz[..., 1])
    return np.stack([L, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_bgr(lab):
    """CIE Lab -> BGR float64 in [0, 255] (gamut-clipped in linear RGB)."""
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    low = L <= 8.0
    Y = np.where(low, L / 903.3, ((L + 16) / 116) ** 3)
    fy = np.where(low, 7.787 * Y + 16 / 116, (L + 16) / 116)
    fx, fz = A / 500 + fy, fy - B / 200
    inv = lambda t: np.where(t > 0.206893, t**3, (t - 16 / 116) / 7.787)
    xyz = np.stack([inv(fx) * _WHITE[0], Y, inv(fz) * _WHITE[2]], axis=-1)
    rgb = xyz @ np.linalg.inv(_M).T
    return (_to_srgb(rgb) * 255.0)[..., ::-1]


def bgr_to_hsv(bgr):
    """uint8 BGR -> H degrees, S, V in [0, 1] (float64), OpenCV's float definition."""
    f = bgr.astype(np.float64) / 255.0
    b, g, r = f[..., 0], f[..., 1], f[..., 2]
    v = f.max(axis=-1)
    d = v - f.min(axis=-1)
    s = np.where(v > 0, d / np.where(v > 0, v, 1), 0)
    dd = np.where(d > 0, d, 1)
    h = np.where(v == r, 60 * (g - b) / dd, np.where(v == g, 60 * (b - r) / dd + 120, 60 * (r - g) / dd + 240))
    h = np.where(d > 0, np.mod(h, 360), 0)
    return h, s, v


def hsv_to_bgr(h, s, v):
    c = v * s
    hp = np.mod(h, 360) / 60
    x = c * (1 - np.abs(np.mod(hp, 2) - 1))
    z = np.zeros_like(h)
    sector = np.floor(hp).astype(int) % 6
    r = np.choose(sector, [c, x, z, z, x, c])
    g = np.choose(sector, [x, c, c, x, z, z])
    b = np.choose(sector, [z, z, x, c, c, x])
    m = v - c
    return np.stack([b + m, g + m, r + m], axis=-1) * 255.0


def recolor(image, alpha, color_bgr, mode="lab", strength=1.0):
    """The recolour layer in float64 from the textbook formulas, then the float32 blend."""
    if mode == "lab":
        lab = bgr_to_lab(image)
        t = bgr_to_lab(np.array(color_bgr, np.uint8).reshape(1, 1, 3))[0, 0]
        lab[..., 1] += strength * (t[1] - lab[..., 1])
        lab[..., 2] += strength * (t[2] - lab[..., 2])
        layer = lab_to_bgr(lab)
    else:
        h, s, v = bgr_to_hsv(image)
        th, ts, _ = bgr_to_hsv(np.array(color_bgr, np.uint8).reshape(1, 1, 3))
        dh = th[0, 0] - h
        dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
        layer = hsv_to_bgr(np.mod(h + strength * dh, 360), s + strength * (ts[0, 0] - s), v)
    a = np.clip(np.nan_to_num(alpha, nan=0.0), 0, 1).astype(np.float64)[..., None]
    return (1 - a) * image + a * layer  # float64, unrounded


# -------------------------------------------------------------------------- guided


def box_mean(x, r):
    """Mean over the (2r+1)^2 window clipped to the image (He et al.'s f_mean with N), float64."""
    x = np.asarray(x, np.float64)
    h, w = x.shape
    out = np.empty_like(x)
    for y in range(h):
        y0, y1 = max(0, y - r), min(h, y + r + 1)
        for xx in range(w):
            x0, x1 = max(0, xx - r), min(w, xx + r + 1)
            out[y, xx] = x[y0:y1, x0:x1].mean()
    return out


def guided_upsample(guide, alpha, radius, eps):
    """The fast guided filter (He & Sun 2015, Alg. 2 with a grey guide) in float64.

    Low-resolution guide: mean BT.601 luma over each low pixel's block of full-resolution
    pixels (rows y*H//h .. (y+1)*H//h); coefficients by explicit window means; the mean
    coefficients resized with cv2.resize INTER_LINEAR; q = clip(A * I + B, 0, 1).
    """
    import cv2

    g = np.asarray(guide, np.float64)
    I = (g[..., 0] * 0.114 + g[..., 1] * 0.587 + g[..., 2] * 0.299) / 255 if g.ndim == 3 else g / 255
    H, W = I.shape
    h, w = alpha.shape
    rows = [y * H // h for y in range(h)]
    cols = [x * W // w for x in range(w)]
    counts = np.outer(np.diff(rows + [H]), np.diff(cols + [W]))
    low = np.add.reduceat(np.add.reduceat(I, rows, axis=0), cols, axis=1) / counts
    p = np.clip(np.nan_to_num(alpha.astype(np.float64), nan=0.0), 0, 1)
    mi, mp = box_mean(low, radius), box_mean(p, radius)
    cov = box_mean(low * p, radius) - mi * mp
    var = box_mean(low * low, radius) - mi * mi
    a = cov / (var + eps)
    b = mp - a * mi
    A = cv2.resize(box_mean(a, radius).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(box_mean(b, radius).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(A * I + B, 0, 1)
