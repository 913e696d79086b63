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
    H, W, _C = img.shape
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
    cy = np.arange(gh) * sy + (wh - 1) / 2.0
    cx = np.arange(gw) * sx + (ww - 1) / 2.0
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


_M = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
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
    h = np.where(
        v == r,
        60 * (g - b) / dd,
        np.where(v == g, 60 * (b - r) / dd + 120, 60 * (r - g) / dd + 240),
    )
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


_OK_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_OK_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def bgr_to_oklab(bgr):
    """uint8 BGR -> Oklab x 100 (B. Ottosson 2020), float64; LMS floored at 1e-7 as the kernel does."""
    rgb = _to_linear(bgr[..., ::-1].astype(np.float64) / 255.0)
    lms = np.clip(rgb @ _OK_M1.T, 1e-7, 8.0)
    return 100.0 * (np.cbrt(lms) @ _OK_M2.T)


def oklab_to_linear(lab):
    """Oklab x 100 -> linear RGB (unclipped), float64, through the inverse matrices."""
    lms_ = (lab / 100.0) @ np.linalg.inv(_OK_M2).T
    return (lms_**3) @ np.linalg.inv(_OK_M1).T


def lab_stats(image, alpha, step=4):
    """(weight, mean, std) of Oklab L x 100 over the ``step`` grid: alpha >= 0.5, else alpha > 0."""
    L = bgr_to_oklab(image[::step, ::step])[..., 0]
    a = np.clip(np.nan_to_num(alpha[::step, ::step].astype(np.float64), nan=0.0), 0, 1)
    w = np.where(a >= 0.5, a, 0.0)
    if w.sum() == 0:
        w = a
    if w.sum() == 0:
        return 0.0, 50.0, 10.0
    m = (w * L).sum() / w.sum()
    return w.sum(), m, np.sqrt(max((w * L * L).sum() / w.sum() - m * m, 0.0))


def _gamut_map(rgb):
    """Linear RGB -> the same luminance's grey mixed in until every channel is in [0, 1]."""
    Y = np.clip(rgb @ _M[1], 0, 1)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(rgb > 1, (1 - Y) / (rgb - Y), np.where(rgb < 0, Y / (Y - rgb), 1.0))
    t = np.clip(np.nan_to_num(t.min(axis=-1, keepdims=True), nan=0.0), 0, 1)
    return Y + t * (rgb - Y)


def recolor_transfer(image, alpha, color_bgr, strength=1.0, natural=False, source=None):
    """The "transfer"/"natural" recolour from its definition (kernels.recolor docstring), float64 Oklab."""
    lab = bgr_to_oklab(image)
    L, A, B = lab[..., 0], lab[..., 1], lab[..., 2]
    Lt, at, bt = bgr_to_oklab(np.array(color_bgr, np.uint8).reshape(1, 1, 3))[0, 0]
    mu, sd = lab_stats(image, alpha)[1:] if source is None else source
    mu, sd = np.clip(mu, 0, 100), np.clip(sd, 0.5, 50)
    m = mu + 0.5 * (Lt - mu) if natural else Lt
    k = np.clip((m + 10) / (mu + 10), 0.4, 2.5)
    d = L - mu
    Ln = m + k * d
    h = np.clip((d - sd) / (sd + 1), 0, 1) if natural else np.zeros_like(L)
    Ln = np.clip(Ln + h * 0.5 * np.maximum(L - Ln, 0), 0, 100)
    c = np.clip(Ln / max(m, 1.0), 0, 1.25) * (1 - 0.7 * h)
    Lf = np.clip(L + strength * (Ln - L), 0, 100)
    Af = A + strength * (at * c - A)
    Bf = B + strength * (bt * c - B)
    rgb = _gamut_map(oklab_to_linear(np.stack([Lf, Af, Bf], axis=-1)))
    layer = (_to_srgb(rgb) * 255.0)[..., ::-1]
    a = np.clip(np.nan_to_num(alpha, nan=0.0), 0, 1).astype(np.float64)[..., None]
    return (1 - a) * image + a * layer


def ciede2000(lab1, lab2):
    """CIEDE2000 colour difference (kL = kC = kH = 1), G. Sharma, W. Wu, E. Dalal (2005), float64."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    C1, C2 = np.hypot(a1, b1), np.hypot(a2, b2)
    Cm7 = ((C1 + C2) / 2) ** 7
    G = 0.5 * (1 - np.sqrt(Cm7 / (Cm7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp, dCp = L2 - L1, C2p - C1p
    dh = h2p - h1p
    dh = np.where(
        C1p * C2p == 0, 0, np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    )
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh / 2))
    Lm, Cm = (L1 + L2) / 2, (C1p + C2p) / 2
    hs = h1p + h2p
    hm = np.where(
        C1p * C2p == 0,
        hs,
        np.where(
            np.abs(h1p - h2p) <= 180, hs / 2, np.where(hs < 360, (hs + 360) / 2, (hs - 360) / 2)
        ),
    )
    T = (
        1
        - 0.17 * np.cos(np.radians(hm - 30))
        + 0.24 * np.cos(np.radians(2 * hm))
        + 0.32 * np.cos(np.radians(3 * hm + 6))
        - 0.20 * np.cos(np.radians(4 * hm - 63))
    )
    dtheta = 30 * np.exp(-(((hm - 275) / 25) ** 2))
    Rc = 2 * np.sqrt(Cm**7 / (Cm**7 + 25.0**7))
    Sl = 1 + 0.015 * (Lm - 50) ** 2 / np.sqrt(20 + (Lm - 50) ** 2)
    Sc, Sh = 1 + 0.045 * Cm, 1 + 0.015 * Cm * T
    Rt = -np.sin(np.radians(2 * dtheta)) * Rc
    return np.sqrt(
        (dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh)
    )


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
    coefficients resized with cv2.resize INTER_LINEAR; q = clip(A * luma + B, 0, 1).
    """
    import cv2

    g = np.asarray(guide, np.float64)
    luma = (
        (g[..., 0] * 0.114 + g[..., 1] * 0.587 + g[..., 2] * 0.299) / 255
        if g.ndim == 3
        else g / 255
    )
    H, W = luma.shape
    h, w = alpha.shape
    rows = [y * H // h for y in range(h)]
    cols = [x * W // w for x in range(w)]
    counts = np.outer(np.diff(rows + [H]), np.diff(cols + [W]))
    low = np.add.reduceat(np.add.reduceat(luma, rows, axis=0), cols, axis=1) / counts
    p = np.clip(np.nan_to_num(alpha.astype(np.float64), nan=0.0), 0, 1)
    mi, mp = box_mean(low, radius), box_mean(p, radius)
    cov = box_mean(low * p, radius) - mi * mp
    var = box_mean(low * low, radius) - mi * mi
    a = cov / (var + eps)
    b = mp - a * mi
    A = cv2.resize(box_mean(a, radius).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    B = cv2.resize(box_mean(b, radius).astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
    return np.clip(A * luma + B, 0, 1)
