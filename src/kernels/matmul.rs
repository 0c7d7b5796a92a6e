//! The matmul family on row-major matrices: `C = α·op(A)·op(B) + β·C`, the three
//! products a backward pass needs, matrix·vector, vector·matrix, bias add and the
//! column sum that gives a bias gradient.
//!
//! # Gradients
//!
//! For `C = A·B` and an upstream gradient `dC`:
//! `dA = dC·Bᵀ` ([`matmul_nt`]) and `dB = Aᵀ·dC` ([`matmul_tn`]); with
//! [`Accum::Add`] both accumulate into existing gradient buffers.
//!
//! # How it computes
//!
//! A register-blocked micro-kernel serves the products whose `op(B)` has contiguous
//! rows: a tile of up to [`MR`] rows × [`NR`] columns of `C` lives in `MR × 2` vector
//! accumulators, and for each `p` along the shared dimension one row segment of
//! `op(B)` (two vectors) is multiplied by each of the `MR` values of `op(A)`,
//! broadcast, in fused multiply-adds. Row segments of `op(B)` are contiguous for `A·B`
//! and `Aᵀ·B`, and `Aᵀ·Bᵀ` is computed as `(B·A)ᵀ`. The shared dimension is cut into
//! blocks ([`KC`]) so that the panel of `B` a column tile reads stays in L1 cache while
//! all row tiles of `A` pass over it. Edge tiles use smaller instantiations of the
//! same kernel, so every shape — `1×1`, tall, wide, not a multiple of the tile — takes
//! the same code.
//!
//! On hosts (eight or sixteen lanes) the block of `op(B)` is first copied into an
//! aligned panel on the stack (`KP × NR` values, 16 KiB with sixteen lanes), so that
//! no vector load spans two cache lines; for `A·Bᵀ` the copy is transposed, which
//! turns it into the same broadcast product. On microcontrollers (four lanes) nothing
//! is copied, and `A·Bᵀ` keeps a tile of dot-product accumulators
//! ([`simd::DOT_TILE`], `2 × 2`) summed horizontally at the end
//! ([`simd::hsum_lanes`]), so no product needs more stack than one register tile. The
//! tile sizes [`MR`] and [`NR`] follow the target's registers: `8 × 32` with
//! AVX-512, `6 × 16` on other x86-64 and on aarch64, `2 × 8` on microcontrollers.
//! [`matvec`] is one [`dot`] per row.
//!
//! Every operand may be a strided view (rows further apart than their length, see
//! [`MatRef::strided`]): one attention head's column block of a Q|K|V buffer, or the
//! first positions of a KV cache, enter a product without a copy.

use crate::error::{Error, Result, check_len, check_same_shape};
use crate::kernels::reduce::{check_finite, dot};
use crate::kernels::softmax::in_row;
use crate::kernels::view::{MatMut, MatRef};
use crate::simd::{self, LANES, Vector, splat};

/// Rows of `C` per broadcast micro-kernel tile (set by the target's register file, see
/// [`simd::TILE_ROWS`]).
pub const MR: usize = simd::TILE_ROWS;
/// Columns of `C` per broadcast micro-kernel tile (two vectors).
pub const NR: usize = 2 * LANES;
/// Block of the shared dimension whose `KC × NR` panel of `B` is kept in L1 cache.
pub const KC: usize = 256;
/// Whether one call of the broadcast micro-kernel runs down a whole column of full
/// tiles: with the wide tiles of x86-64 and aarch64 that saves a call's set-up per tile
/// (1.5 % of a training step's instructions); with the two-row tiles of
/// microcontrollers, the loop's live values measured more stack and instructions.
const COLUMN_CALLS: bool = MR >= 4;
/// Whether `A·Bᵀ` copies `B` transposed into panels for the broadcast micro-kernel
/// (on hosts, where the dot-product tiles spend most of their time in horizontal sums
/// and a panel on the stack costs nothing that matters), or keeps the dot-product
/// tiles and no buffer (microcontrollers, and builds for size).
const PACK_NT: bool = LANES >= 8 && !cfg!(edgegrad_size);
/// Block of the shared dimension per packed panel of `A·Bᵀ`: the panel is
/// `KP × NR` values on the stack (16 KiB with sixteen lanes).
const KP: usize = 128;
/// Rows of `A` per dot-product tile of [`matmul_nt`].
const DR: usize = simd::DOT_TILE.0;
/// Rows of `B` (columns of `C`) per dot-product tile of [`matmul_nt`].
const DC: usize = simd::DOT_TILE.1;

/// Whether an operand enters a product as it is stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// `op(X) = X`.
    N,
    /// `op(X) = Xᵀ`.
    T,
}

/// Whether a kernel overwrites its output or adds to it (gradient accumulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accum {
    /// `C ← result` (the old contents of `C` are never read, so they may even be NaN).
    Overwrite,
    /// `C ← C + result`.
    Add,
}

impl Accum {
    fn beta(self) -> f32 {
        match self {
            Accum::Overwrite => 0.0,
            Accum::Add => 1.0,
        }
    }
}

/// General matrix product `C ← α·op(A)·op(B) + β·C` (BLAS `sgemm` on row-major data).
///
/// Shapes: `op(A)` is `m × k`, `op(B)` is `k × n` and `C` is `m × n`, where `op(X)` is
/// `X` or `Xᵀ` as `ta`/`tb` say; anything else is [`Error::ShapeMismatch`], with `C`
/// untouched. With `β = 0` the old contents of `C` are not read. `k = 0` gives
/// `C ← β·C`.
///
/// A result that is not finite is [`Error::NonFinite`] (its flat index in `C`) after `C`
/// was written: from finite inputs, a value beyond `f32`'s range (which IEEE arithmetic
/// would make `±inf`, or NaN where two of opposite signs meet); or a non-finite input. The same holds for every product
/// built on it ([`matmul`], [`matmul_nt`], [`matmul_tn`], [`vecmat`]) and for
/// [`matvec`].
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::{gemm, Trans}};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0, 0.0, 1.0, 1.0]; // [[1, 0], [1, 1]]
/// let mut c = [1.0; 4];
/// // C = 2·Aᵀ·B + C
/// gemm(2.0, MatRef::new(&a, 2, 2)?, Trans::T, MatRef::new(&b, 2, 2)?, Trans::N,
///      1.0, MatMut::new(&mut c, 2, 2)?)?;
/// assert_eq!(c, [9.0, 7.0, 13.0, 9.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm(
    alpha: f32,
    a: MatRef<'_>,
    ta: Trans,
    b: MatRef<'_>,
    tb: Trans,
    beta: f32,
    c: MatMut<'_>,
) -> Result<()> {
    let (m, k) = op_shape(a.shape(), ta);
    let (kb, n) = op_shape(b.shape(), tb);
    if kb != k {
        return Err(Error::ShapeMismatch {
            what: "gemm: op(B) (inner dimensions differ)",
            expected: (k, n),
            found: (kb, n),
        });
    }
    check_same_shape("gemm: C", (m, n), c.shape())?;
    let ldc = c.stride();
    let c = c.into_slice();
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        scale_c(c, n, ldc, beta);
        return check_product(c, m, n, ldc);
    }
    let (lda, ldb) = (a.stride(), b.stride());
    let (a, b) = (a.as_slice(), b.as_slice());
    // Three calls with their operands spelled out, not one call on operands chosen by
    // the match: the single call measured 176 bytes more peak stack on the Cortex-M4F.
    match (ta, tb) {
        (Trans::N, Trans::N) if pack_rows_of_b(m, n, k) => packed_product(
            (m, n, k),
            alpha,
            Lhs::Rows { a, ld: lda },
            Pack::Rows(Operand { x: b, ld: ldb }),
            beta,
            (&mut *c, ldc),
        ),
        (Trans::T, Trans::N) if pack_rows_of_b(m, n, k) => packed_product(
            (m, n, k),
            alpha,
            Lhs::Cols { a, ld: lda },
            Pack::Rows(Operand { x: b, ld: ldb }),
            beta,
            (&mut *c, ldc),
        ),
        (Trans::N, Trans::N) => broadcast_product(
            (m, n, k),
            alpha,
            Lhs::Rows { a, ld: lda },
            Rhs::new(b, k, ldb),
            beta,
            (&mut *c, ldc),
            false,
        ),
        (Trans::T, Trans::N) => broadcast_product(
            (m, n, k),
            alpha,
            Lhs::Cols { a, ld: lda },
            Rhs::new(b, k, ldb),
            beta,
            (&mut *c, ldc),
            false,
        ),
        // Cᵀ = B·A: B (n × k) supplies the broadcast rows, A (k × m) the vectors.
        (Trans::T, Trans::T) => broadcast_product(
            (n, m, k),
            alpha,
            Lhs::Rows { a: b, ld: ldb },
            Rhs::new(a, k, lda),
            beta,
            (&mut *c, ldc),
            true,
        ),
        (Trans::N, Trans::T) if PACK_NT && m >= MR => packed_product(
            (m, n, k),
            alpha,
            Lhs::Rows { a, ld: lda },
            Pack::Transposed(Operand { x: b, ld: ldb }),
            beta,
            (&mut *c, ldc),
        ),
        (Trans::N, Trans::T) if LANES == 4 && !cfg!(edgegrad_size) => broadcast_product(
            (m, n, k),
            alpha,
            Lhs::Rows { a, ld: lda },
            Rhs::transposed(b, ldb),
            beta,
            (&mut *c, ldc),
            false,
        ),
        (Trans::N, Trans::T) => dot_product(
            (m, n, k),
            alpha,
            Operand { x: a, ld: lda },
            Operand { x: b, ld: ldb },
            beta,
            (&mut *c, ldc),
        ),
    }
    check_product(c, m, n, ldc)
}

/// Whether `A·B` and `Aᵀ·B` copy `B` into aligned panels (hosts, at least two tiles of
/// rows). With sixteen lanes always: every 64-byte load from a row that is not 64-byte
/// aligned spans two cache lines. With eight lanes only every other load does, and
/// until `B` holds 128 × 128 values the copy costs more than it saves: in place, both
/// products ran 1.28–1.30× as fast at 16³, 1.18× at 32³ and 1.10× at 64³, and the same
/// from 64 × 256 up (AMD EPYC, Zen 3).
#[inline(always)]
fn pack_rows_of_b(m: usize, n: usize, k: usize) -> bool {
    PACK_NT && m >= 2 * MR && (LANES >= 16 || k * n >= 128 * 128)
}

/// A product `C` (`m × n`, row stride `ld`) holding a NaN or an infinity is
/// [`Error::NonFinite`] (flat index `row·n + col`): terms beyond `f32`'s range, or a
/// non-finite input. One pass over `C` (a whole contiguous `C` at once), small beside
/// the `m·n·k` of the product.
fn check_product(c: &[f32], m: usize, n: usize, ld: usize) -> Result<()> {
    if ld == n || m <= 1 {
        return check_finite("matrix product", c.get(..m * n).unwrap_or_default());
    }
    for r in 0..m {
        let row = c.get(r * ld..r * ld + n).unwrap_or_default();
        in_row(check_finite("matrix product", row), r, n)?;
    }
    Ok(())
}

/// `C ← A·B` or `C ← C + A·B` (`A: m × k`, `B: k × n`, `C: m × n`).
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::{matmul, Accum}};
/// let mut c = [0.0; 2];
/// matmul(MatRef::new(&[1.0, 2.0], 1, 2)?, MatRef::new(&[3.0, 4.0, 5.0, 6.0], 2, 2)?,
///        MatMut::new(&mut c, 1, 2)?, Accum::Overwrite)?;
/// assert_eq!(c, [13.0, 16.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn matmul(a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, acc: Accum) -> Result<()> {
    gemm(1.0, a, Trans::N, b, Trans::N, acc.beta(), c)
}

/// `C ← A·Bᵀ` or `C ← C + A·Bᵀ` (`A: m × k`, `B: n × k`, `C: m × n`): the gradient
/// `dA = dC·Bᵀ` of `C = A·B`.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::{matmul_nt, Accum}};
/// let mut c = [0.0; 2];
/// matmul_nt(MatRef::new(&[1.0, 2.0], 1, 2)?, MatRef::new(&[3.0, 4.0, 5.0, 6.0], 2, 2)?,
///           MatMut::new(&mut c, 1, 2)?, Accum::Overwrite)?;
/// assert_eq!(c, [11.0, 17.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn matmul_nt(a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, acc: Accum) -> Result<()> {
    gemm(1.0, a, Trans::N, b, Trans::T, acc.beta(), c)
}

/// `C ← Aᵀ·B` or `C ← C + Aᵀ·B` (`A: k × m`, `B: k × n`, `C: m × n`): the gradient
/// `dB = Aᵀ·dC` of `C = A·B`.
///
/// ```
/// use edgegrad::{MatMut, MatRef, kernels::{matmul_tn, Accum}};
/// let mut c = [1.0; 4];
/// // outer product x·yᵀ accumulated into C: x, y as 1-row matrices
/// matmul_tn(MatRef::new(&[1.0, 2.0], 1, 2)?, MatRef::new(&[3.0, 4.0], 1, 2)?,
///           MatMut::new(&mut c, 2, 2)?, Accum::Add)?;
/// assert_eq!(c, [4.0, 5.0, 7.0, 9.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn matmul_tn(a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, acc: Accum) -> Result<()> {
    gemm(1.0, a, Trans::T, b, Trans::N, acc.beta(), c)
}

/// Matrix·vector `y ← A·x` or `y ← y + A·x` (`A: m × n`, `x: n`, `y: m`): the
/// gradient of a vector·matrix product with respect to its vector.
///
/// ```
/// use edgegrad::{MatRef, kernels::{matvec, Accum}};
/// let mut y = [0.0; 2];
/// matvec(MatRef::new(&[1.0, 2.0, 3.0, 4.0], 2, 2)?, &[1.0, 1.0], &mut y, Accum::Overwrite)?;
/// assert_eq!(y, [3.0, 7.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn matvec(a: MatRef<'_>, x: &[f32], y: &mut [f32], acc: Accum) -> Result<()> {
    check_len("matvec: x", a.cols(), x.len())?;
    check_len("matvec: y", a.rows(), y.len())?;
    if a.cols() == 0 {
        if acc == Accum::Overwrite {
            y.fill(0.0);
        }
        return Ok(());
    }
    // One dot product per row: x stays in L1 and each row streams through once. (The
    // A·Bᵀ tile kernel with one row of x measured 5–9 % slower in decoding with eight
    // lanes.) With sixteen lanes, blocks of sixteen rows share their horizontal sums.
    let blocks = if LANES == 16 { a.rows() / LANES } else { 0 };
    let (head, rest) = y.split_at_mut(blocks * LANES);
    for (b, ys) in head.chunks_exact_mut(LANES).enumerate() {
        let rows: [&[f32]; LANES] = core::array::from_fn(|r| a.row(b * LANES + r));
        let sums = row_block_dots(&rows, x).to_array();
        for ((yi, &d), row) in ys.iter_mut().zip(&sums).zip(rows) {
            // A sum beyond f32's range: again by `dot`, which rescales.
            let d = if d.is_finite() { d } else { dot(row, x)? };
            *yi = if acc == Accum::Add { *yi + d } else { d };
        }
    }
    let a = a.rows_range(blocks * LANES, rest.len())?;
    let each = |yi: &mut f32, row: &[f32]| -> Result<()> {
        let d = dot(row, x)?;
        *yi = if acc == Accum::Add { *yi + d } else { d };
        Ok(())
    };
    if a.is_contiguous() {
        // Whole rows back to back: no stride arithmetic per row (decoding's hot loop).
        for (yi, row) in rest.iter_mut().zip(a.as_slice().chunks_exact(a.cols())) {
            each(yi, row)?;
        }
    } else {
        for (yi, row) in rest.iter_mut().zip(a.row_iter()) {
            each(yi, row)?;
        }
    }
    check_product(y, 1, y.len(), y.len())
}

/// `⟨rows[r], x⟩` for [`LANES`] rows of `x.len()` values each, lane `r` of the result:
/// one accumulator per row, summed horizontally all at once.
#[inline(always)]
fn row_block_dots(rows: &[&[f32]; LANES], x: &[f32]) -> Vector {
    let mut acc = [splat(0.0); LANES];
    let (chunks, tail) = x.as_chunks::<LANES>();
    for (c, xc) in chunks.iter().enumerate() {
        let xv = simd::load(xc);
        for (a, row) in acc.iter_mut().zip(rows) {
            let rc = &row[c * LANES..c * LANES + LANES];
            *a = simd::load(&rc.as_chunks::<LANES>().0[0]).mul_add(xv, *a);
        }
    }
    if !tail.is_empty() {
        let xv = simd::load_partial(tail, 0.0);
        let start = chunks.len() * LANES;
        for (a, row) in acc.iter_mut().zip(rows) {
            *a = simd::load_partial(&row[start..], 0.0).mul_add(xv, *a);
        }
    }
    simd::hsum_lanes(acc)
}

/// Vector·matrix `y ← x·A` or `y ← y + x·A` (`x: m`, `A: m × n`, `y: n`): a dense
/// layer applied to one row vector.
///
/// ```
/// use edgegrad::{MatRef, kernels::{vecmat, Accum}};
/// let mut y = [0.0; 2];
/// vecmat(&[1.0, 1.0], MatRef::new(&[1.0, 2.0, 3.0, 4.0], 2, 2)?, &mut y, Accum::Overwrite)?;
/// assert_eq!(y, [4.0, 6.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn vecmat(x: &[f32], a: MatRef<'_>, y: &mut [f32], acc: Accum) -> Result<()> {
    check_len("vecmat: x", a.rows(), x.len())?;
    check_len("vecmat: y", a.cols(), y.len())?;
    gemm(
        1.0,
        MatRef::row_vector(x),
        Trans::N,
        a,
        Trans::N,
        acc.beta(),
        MatMut::row_vector(y),
    )
}

/// Adds `bias` to every row: `xᵢⱼ ← xᵢⱼ + biasⱼ` (`x: rows × n`, `bias: n`).
///
/// ```
/// use edgegrad::{MatMut, kernels::add_bias};
/// let mut x = [0.0, 1.0, 2.0, 3.0];
/// add_bias(MatMut::new(&mut x, 2, 2)?, &[10.0, 20.0])?;
/// assert_eq!(x, [10.0, 21.0, 12.0, 23.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn add_bias(mut x: MatMut<'_>, bias: &[f32]) -> Result<()> {
    check_len("add_bias: bias", x.cols(), bias.len())?;
    for row in x.row_iter_mut() {
        simd::update([row], [bias], |[r], [b]| [r + b]);
    }
    Ok(())
}

/// Column sums `outⱼ ← Σᵢ xᵢⱼ` (or `outⱼ ← outⱼ + Σᵢ xᵢⱼ`): the bias gradient
/// `db = Σᵢ dYᵢ` of `Y = X·W + b` (`x: rows × n`, `out: n`).
///
/// ```
/// use edgegrad::{MatRef, kernels::{col_sum, Accum}};
/// let mut db = [0.0; 2];
/// col_sum(MatRef::new(&[1.0, 2.0, 3.0, 4.0], 2, 2)?, &mut db, Accum::Overwrite)?;
/// assert_eq!(db, [4.0, 6.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
pub fn col_sum(x: MatRef<'_>, out: &mut [f32], acc: Accum) -> Result<()> {
    check_len("col_sum: out", x.cols(), out.len())?;
    if acc == Accum::Overwrite {
        out.fill(0.0);
    }
    for row in x.row_iter() {
        simd::update([&mut *out], [row], |[o], [r]| [o + r]);
    }
    Ok(())
}

fn op_shape((rows, cols): (usize, usize), t: Trans) -> (usize, usize) {
    match t {
        Trans::N => (rows, cols),
        Trans::T => (cols, rows),
    }
}

/// How many of the `remaining` rows (or columns) the next tile takes: the full tile
/// size, else the largest of 4, 2, 1 that fits — the sizes the kernels are
/// instantiated for.
fn tile_extent(remaining: usize, full: usize) -> usize {
    match remaining {
        x if x >= full => full,
        x if x >= 4 => 4,
        x if x >= 2 => 2,
        _ => 1,
    }
}

/// `C ← β·C` for the `n` columns of each row of `C`, rows `ldc` apart.
fn scale_c(c: &mut [f32], n: usize, ldc: usize, beta: f32) {
    for row in c.chunks_mut(ldc.max(1)) {
        let row = &mut row[..n];
        if beta == 0.0 {
            row.fill(0.0);
        } else {
            let b = splat(beta);
            simd::update([row], [], |[x], []| [x * b]);
        }
    }
}

/// Where the broadcast operand `L` (`m × k`) comes from.
#[derive(Clone, Copy)]
enum Lhs<'a> {
    /// Element `(i, p)` at `a[i·ld + p]`: row `i` is contiguous along `p`.
    Rows { a: &'a [f32], ld: usize },
    /// Element `(i, p)` at `a[p·ld + i]`: at each `p` the tile's values are contiguous.
    Cols { a: &'a [f32], ld: usize },
}

/// The vector operand `R` (`k × n`): element `(p, j)` at `b[p·ld + j]`, so row
/// segments load directly as vectors.
#[derive(Clone, Copy)]
struct Rhs<'a> {
    b: &'a [f32],
    ld: usize,
    /// Whether every row is a whole `ld` long (always for a contiguous operand; a
    /// strided view ends with its last element, so its last row is shorter).
    whole: bool,
    /// The `(p, j)` position of `b[0]` in `R`: `(0, 0)`, except for a packed panel,
    /// which holds one block of `R`.
    origin: (usize, usize),
    /// Whether `b` holds `Rᵀ` (`n × k`, element `(p, j)` at `b[j·ld + p]`): `A·Bᵀ` on
    /// scalar lanes, where a vector is loaded an element at a time anyway.
    transposed: bool,
}

impl<'a> Rhs<'a> {
    /// `rows` rows of `b`, `ld` apart.
    fn new(b: &'a [f32], rows: usize, ld: usize) -> Self {
        Rhs {
            b,
            ld,
            whole: b.len() >= rows * ld,
            origin: (0, 0),
            transposed: false,
        }
    }

    /// `R = Bᵀ` for `B` (`n × k`, rows `ld` apart).
    fn transposed(b: &'a [f32], ld: usize) -> Self {
        Rhs {
            b,
            ld,
            whole: true,
            origin: (0, 0),
            transposed: true,
        }
    }
}

/// `C ← α·L·R + β·C` for `L: m × k` and `R: k × n`, rows of `C` `ldc` apart; with
/// `transposed_out` the result is stored as `Cᵀ`.
fn broadcast_product(
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
    beta: f32,
    (c, ldc): (&mut [f32], usize),
    transposed_out: bool,
) {
    let mut out = Out {
        c,
        ld: ldc,
        alpha,
        transposed: transposed_out,
    };
    blocks((n, k), KC, beta, |tile| {
        row_tiles(m, tile, lhs, rhs, &mut out)
    });
}

/// Calls `body` for each block of `kb` steps of the shared dimension and each column
/// block of [`NR`], in that order, with a tile (rows still to be set) whose `β` is the
/// caller's for the first block of the shared dimension and 1 after it.
#[inline(always)]
fn blocks((n, k): (usize, usize), kb: usize, beta: f32, mut body: impl FnMut(Tile)) {
    for k0 in (0..k).step_by(kb) {
        let kc = kb.min(k - k0);
        let beta = if k0 == 0 { beta } else { 1.0 };
        for j0 in (0..n).step_by(NR) {
            body(Tile {
                i0: 0,
                i_end: 0,
                j0,
                k0,
                kc,
                width: NR.min(n - j0),
                beta,
            });
        }
    }
}

/// The micro-kernel over all `m` rows of one column block and one block of the shared
/// dimension (`tile` gives its columns, block and `β`): full tiles of [`MR`] rows, then
/// the remainder in the smaller instantiations.
#[inline(always)]
fn row_tiles(m: usize, tile: Tile, lhs: Lhs<'_>, rhs: Rhs<'_>, out: &mut Out<'_>) {
    let mut i0 = 0;
    while i0 < m {
        // Built for size: one tile height, whose unused rows are not stored.
        let rows = if cfg!(edgegrad_size) {
            MR.min(m - i0)
        } else {
            tile_extent(m - i0, MR)
        };
        let rows = if rows == MR && COLUMN_CALLS {
            (m - i0) / MR * MR
        } else {
            rows
        };
        let tile = Tile {
            i0,
            i_end: i0 + rows,
            ..tile
        };
        if rows >= MR || cfg!(edgegrad_size) {
            columns::<MR>(&tile, lhs, rhs, out);
        } else if rows == 4 {
            columns::<4>(&tile, lhs, rhs, out);
        } else if rows == 2 {
            columns::<2>(&tile, lhs, rhs, out);
        } else {
            columns::<1>(&tile, lhs, rhs, out);
        }
        i0 += rows;
    }
}

/// How a packed product reads `B` into its panels.
#[derive(Clone, Copy)]
enum Pack<'a> {
    /// `op(B) = B` (`k × n`, rows `ld` apart): panel rows are copies of row segments.
    Rows(Operand<'a>),
    /// `op(B) = Bᵀ` (`B: n × k`): panel rows are columns of `B`.
    Transposed(Operand<'a>),
}

/// `C ← α·L·op(B) + β·C` by the broadcast micro-kernel on packed panels of `op(B)`:
/// for each block of [`KP`] steps of the shared dimension and [`NR`] columns of `C`,
/// the block is copied into an aligned panel (transposed for `A·Bᵀ`), then all rows
/// of `L` pass over it. The panel has as many rows as the shared dimension needs (32,
/// 64 or `KP`): safe Rust zeroes it on every call, and zeroing the full 8 KiB cost as
/// much as packing in the attention LM's products of 32.
fn packed_product(
    shape: (usize, usize, usize),
    alpha: f32,
    lhs: Lhs<'_>,
    b: Pack<'_>,
    beta: f32,
    out: (&mut [f32], usize),
) {
    let run = |panel: &mut [f32]| packed_product_in(panel, shape, alpha, lhs, b, beta, out);
    match shape.2 {
        0..=32 => run(&mut Panel([0.0; 32 * NR]).0),
        33..=64 => run(&mut Panel([0.0; 64 * NR]).0),
        _ => run(&mut Panel([0.0; KP * NR]).0),
    }
}

/// [`packed_product`] with a panel of `panel.len() / NR` rows, the block of the shared
/// dimension.
#[inline(never)]
fn packed_product_in(
    panel: &mut [f32],
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    lhs: Lhs<'_>,
    b: Pack<'_>,
    beta: f32,
    (c, ldc): (&mut [f32], usize),
) {
    let mut out = Out {
        c,
        ld: ldc,
        alpha,
        transposed: false,
    };
    blocks((n, k), panel.len() / NR, beta, |tile| {
        let (cols, steps) = ((tile.j0, tile.width), (tile.k0, tile.kc));
        match b {
            Pack::Rows(b) => pack_rows(panel, b, cols, steps),
            Pack::Transposed(b) => pack_transposed(panel, b, cols, steps),
        }
        let rhs = Rhs {
            b: &panel[..tile.kc * NR],
            ld: NR,
            whole: true,
            origin: (tile.k0, tile.j0),
            transposed: false,
        };
        row_tiles(m, tile, lhs, rhs, &mut out);
    });
}

/// `panel[p·NR + j] = B[k0 + p][j0 + j]` for `j < width`, `p < kc`.
#[inline(never)]
fn pack_rows(
    panel: &mut [f32],
    b: Operand<'_>,
    (j0, width): (usize, usize),
    (k0, kc): (usize, usize),
) {
    for p in 0..kc {
        let at = (k0 + p) * b.ld + j0;
        panel[p * NR..p * NR + width].copy_from_slice(&b.x[at..at + width]);
    }
}

/// A packed panel, aligned so that no vector load from it spans two cache lines.
#[repr(align(64))]
struct Panel<const N: usize>([f32; N]);

/// `panel[p·NR + j] = B[j0 + j][k0 + p]` for `j < width`, `p < kc`; the panel's other
/// columns keep what they held (the micro-kernel never stores the lanes it reads
/// there).
#[inline(never)]
fn pack_transposed(
    panel: &mut [f32],
    b: Operand<'_>,
    (j0, width): (usize, usize),
    (k0, kc): (usize, usize),
) {
    use wide::f32x8;
    let row = |j: usize| &b.x[(j0 + j) * b.ld + k0..(j0 + j) * b.ld + k0 + kc];
    // 8 × 8 blocks through registers (`wide`'s transpose is eight shuffles deep).
    let (jb, pb) = (width / 8 * 8, kc / 8 * 8);
    for j in (0..jb).step_by(8) {
        let rows: [&[f32]; 8] = core::array::from_fn(|r| row(j + r));
        for p in (0..pb).step_by(8) {
            let block = f32x8::transpose(core::array::from_fn(|r| {
                f32x8::new(rows[r][p..p + 8].try_into().unwrap_or_default())
            }));
            for (q, v) in block.iter().enumerate() {
                let at = (p + q) * NR + j;
                panel[at..at + 8].copy_from_slice(&v.to_array());
            }
        }
        for p in pb..kc {
            for (r, rw) in rows.iter().enumerate() {
                panel[p * NR + j + r] = rw[p];
            }
        }
    }
    for j in jb..width {
        for (p, &v) in row(j).iter().enumerate() {
            panel[p * NR + j] = v;
        }
    }
}

/// Position of a column of micro-tiles: rows `i0 .. i_end` (a multiple of the tile's
/// height), columns `j0 .. j0 + width` and the block `k0 .. k0 + kc` of the shared
/// dimension; `beta` applies to this block's store.
#[derive(Clone, Copy)]
struct Tile {
    i0: usize,
    i_end: usize,
    j0: usize,
    k0: usize,
    kc: usize,
    width: usize,
    beta: f32,
}

/// The output matrix (rows `ld` apart) and how results are written to it.
struct Out<'a> {
    c: &'a mut [f32],
    ld: usize,
    alpha: f32,
    transposed: bool,
}

/// Dispatches a tile of `R` rows on its column width: two full vectors, one full
/// vector, or one partial vector (a wider remainder is split into the last two).
#[inline(always)]
fn columns<const R: usize>(t: &Tile, lhs: Lhs<'_>, rhs: Rhs<'_>, out: &mut Out<'_>) {
    if t.width == NR && !cfg!(edgegrad_size) {
        broadcast_tile::<R, 2, true>(t, lhs, rhs, out);
        return;
    }
    let end = t.j0 + t.width;
    let mut j0 = t.j0;
    while j0 < end {
        let sub = Tile {
            j0,
            width: LANES.min(end - j0),
            ..*t
        };
        // Built for size: the one-vector tile that also takes narrow widths serves all.
        if sub.width == LANES && !cfg!(edgegrad_size) {
            broadcast_tile::<R, 1, true>(&sub, lhs, rhs, out);
        } else {
            broadcast_tile::<R, 1, false>(&sub, lhs, rhs, out);
        }
        j0 += LANES;
    }
}

/// The micro-kernel: `acc[r][v] = Σₚ L(i0 + r, k0 + p) · R(k0 + p, j0 + 8v ..)` over one
/// block of the shared dimension, as broadcast fused multiply-adds, then stored; for
/// each `R` rows from `i0` to `i_end`. `FULL` tiles have all `8·V` columns; otherwise
/// the single vector is `width` wide, padded with zeros. (It stores its own tiles rather
/// than returning the accumulators: the return slots of its six instantiations made the
/// caller's frame 500 bytes on the Cortex-M4F. It runs down the whole column so that
/// one call's set-up serves all its tiles.)
#[inline(never)]
fn broadcast_tile<const R: usize, const V: usize, const FULL: bool>(
    t: &Tile,
    lhs: Lhs<'_>,
    rhs: Rhs<'_>,
    out: &mut Out<'_>,
) {
    if R < MR || !COLUMN_CALLS {
        // One tile. (A remainder's, as a loop of one, measured slower in decoding's
        // one-row products.)
        t.product::<R, V, FULL>(lhs, rhs, out);
        return;
    }
    let mut i0 = t.i0;
    while i0 < t.i_end {
        Tile { i0, ..*t }.product::<R, V, FULL>(lhs, rhs, out);
        i0 += R;
    }
}

impl Tile {
    /// The micro-kernel on rows `i0 .. i0 + R` alone.
    #[inline(always)]
    fn product<const R: usize, const V: usize, const FULL: bool>(
        &self,
        lhs: Lhs<'_>,
        rhs: Rhs<'_>,
        out: &mut Out<'_>,
    ) {
        if cfg!(edgegrad_size) {
            // Built for size: both layouts through one strided loop, and the rows past
            // the tile's last (a remainder computed at the full height) repeat it.
            let (a, at, row_step, p_step) = match lhs {
                Lhs::Rows { a, ld } => (a, self.i0 * ld + self.k0, ld, 1),
                Lhs::Cols { a, ld } => (a, self.k0 * ld + self.i0, 1, ld),
            };
            let rows = R.min(self.i_end.saturating_sub(self.i0));
            let acc = accumulate::<R, V, FULL>(self, rhs, |p| {
                core::array::from_fn(|r| {
                    let i = at + r.min(rows.saturating_sub(1)) * row_step + p * p_step;
                    a.get(i).copied().unwrap_or(0.0)
                })
            });
            out.store(self, &acc[..rows]);
            return;
        }
        let acc = match lhs {
            Lhs::Rows { a, ld } => {
                let arows: [&[f32]; R] = core::array::from_fn(|r| {
                    let start = (self.i0 + r) * ld + self.k0;
                    &a[start..start + self.kc]
                });
                accumulate::<R, V, FULL>(self, rhs, |p| core::array::from_fn(|r| arows[r][p]))
            }
            Lhs::Cols { a, ld } => {
                let block: &[f32] = &a[self.k0 * ld..];
                accumulate::<R, V, FULL>(self, rhs, |p| {
                    let s = &block[p * ld + self.i0..p * ld + self.i0 + R];
                    core::array::from_fn(|r| s[r])
                })
            }
        };
        out.store(self, &acc);
    }
}

/// `acc[r][v] += a[r] · b[v]` for one step of the shared dimension.
#[inline(always)]
fn fma_step<const R: usize, const V: usize>(
    acc: &mut [[Vector; V]; R],
    a: [f32; R],
    b: [Vector; V],
) {
    for (accr, ar) in acc.iter_mut().zip(a) {
        let av = splat(ar);
        for (x, bv) in accr.iter_mut().zip(b) {
            *x = av.mul_add(bv, *x);
        }
    }
}

#[inline(always)]
fn accumulate<const R: usize, const V: usize, const FULL: bool>(
    t: &Tile,
    rhs: Rhs<'_>,
    a_at: impl Fn(usize) -> [f32; R],
) -> [[Vector; V]; R] {
    let mut acc = [[splat(0.0); V]; R];
    let span = if FULL { V * LANES } else { t.width };
    let Rhs {
        b,
        ld,
        whole,
        origin,
        transposed,
    } = rhs;
    // The block's position in `b`.
    let (k0, j0) = (t.k0 - origin.0, t.j0 - origin.1);
    // (Only scalar lanes at full speed read `Rᵀ`; the condition keeps the branch out of
    // every other build's code.)
    if LANES == 4 && !cfg!(edgegrad_size) && transposed {
        // Column `j` of the tile is row `j` of `b`; columns past the tile's width
        // repeat its last one (computed, never stored).
        let cols: [[&[f32]; LANES]; V] = core::array::from_fn(|v| {
            core::array::from_fn(|l| {
                let at = (j0 + (v * LANES + l).min(span - 1)) * ld + k0;
                &b[at..at + t.kc]
            })
        });
        // `p` indexes every column's slice at once.
        #[allow(clippy::needless_range_loop)]
        for p in 0..t.kc {
            let bv = core::array::from_fn(|v| Vector::new(core::array::from_fn(|l| cols[v][l][p])));
            fma_step(&mut acc, a_at(p), bv);
        }
        return acc;
    }
    if FULL {
        // Whole rows `ld` apart, except that a strided view ends with its last element:
        // its last row is shorter than `ld` (never than `j0 + span`).
        let last = k0 + t.kc - 1;
        let end = if whole { (last + 1) * ld } else { last * ld };
        let load_seg = |brow: &[f32]| -> [Vector; V] {
            let seg = &brow[j0..j0 + span];
            core::array::from_fn(|v| simd::load(&seg.as_chunks::<LANES>().0[v]))
        };
        let mut rows = b[k0 * ld..end].chunks_exact(ld).enumerate();
        if R == 1 && LANES >= 8 {
            // One row (a decoding step's products): one chain of dependent FMAs would
            // wait on each one's latency, so even and odd steps of the shared dimension
            // go to two sets of accumulators.
            let mut odd = [[splat(0.0); V]; R];
            while let Some((p, brow)) = rows.next() {
                fma_step(&mut acc, a_at(p), load_seg(brow));
                if let Some((p, brow)) = rows.next() {
                    fma_step(&mut odd, a_at(p), load_seg(brow));
                }
            }
            for (accr, oddr) in acc.iter_mut().zip(odd) {
                for (x, y) in accr.iter_mut().zip(oddr) {
                    *x += y;
                }
            }
        } else {
            for (p, brow) in rows {
                fma_step(&mut acc, a_at(p), load_seg(brow));
            }
        }
        if !whole {
            fma_step(&mut acc, a_at(t.kc - 1), load_seg(&b[last * ld..]));
        }
    } else {
        // A narrow last column tile: its unused lanes may read whatever follows in the
        // slice (the next row), since they are never stored. Only the rows too close
        // to the end of the slice need a padded load.
        let overread_ok = match b.len().checked_sub(j0 + LANES) {
            Some(room) => (room / ld + 1).saturating_sub(k0).min(t.kc),
            None => 0,
        };
        for p in 0..t.kc {
            let start = (k0 + p) * ld + j0;
            let bv = if p < overread_ok {
                simd::load(&b[start..start + LANES].as_chunks::<LANES>().0[0])
            } else {
                simd::load_partial(&b[start..start + span], 0.0)
            };
            fma_step(&mut acc, a_at(p), core::array::from_fn(|_| bv));
        }
    }
    acc
}

impl Out<'_> {
    /// Writes `α·acc + β·C` for a tile whose top-left output is `(i0, j0)` and whose
    /// columns `j0 .. j0 + width` are valid.
    #[inline(always)]
    fn store<const V: usize>(&mut self, t: &Tile, acc: &[[Vector; V]]) {
        let (alpha, beta) = (splat(self.alpha), t.beta);
        if !self.transposed {
            for (r, accr) in acc.iter().enumerate() {
                let start = (t.i0 + r) * self.ld + t.j0;
                let crow = &mut self.c[start..start + t.width];
                let (full, tail) = crow.as_chunks_mut::<LANES>();
                for (&a, dst) in accr.iter().zip(full.iter_mut()) {
                    let val = if beta == 0.0 {
                        a * alpha
                    } else {
                        simd::load(dst).mul_add(splat(beta), a * alpha)
                    };
                    simd::store(val, dst);
                }
                if !tail.is_empty() {
                    let a = accr[full.len()];
                    let val = if beta == 0.0 {
                        a * alpha
                    } else {
                        simd::load_partial(tail, 0.0).mul_add(splat(beta), a * alpha)
                    };
                    simd::store_partial(val, tail);
                }
            }
        } else {
            for (r, accr) in acc.iter().enumerate() {
                let values = accr.iter().flat_map(|a| a.to_array()).take(t.width);
                for (col, x) in values.enumerate() {
                    let dst = &mut self.c[(t.j0 + col) * self.ld + t.i0 + r];
                    *dst = if beta == 0.0 {
                        self.alpha * x
                    } else {
                        beta * *dst + self.alpha * x
                    };
                }
            }
        }
    }
}

/// A matrix operand of the dot-product kernel: row `i` at `x[i·ld ..]`.
#[derive(Clone, Copy)]
struct Operand<'a> {
    x: &'a [f32],
    ld: usize,
}

impl<'a> Operand<'a> {
    /// Row `i`, `k` long.
    #[inline(always)]
    fn row(&self, i: usize, k: usize) -> &'a [f32] {
        &self.x[i * self.ld..i * self.ld + k]
    }
}

/// `C ← α·A·Bᵀ + β·C` with `A: m × k`, `B: n × k`, in dot-product tiles of `DR × DC`.
fn dot_product(
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    a: Operand<'_>,
    b: Operand<'_>,
    beta: f32,
    (c, ldc): (&mut [f32], usize),
) {
    let mut i0 = 0;
    while i0 < m {
        let rows = tile_extent(m - i0, DR);
        let mut j0 = 0;
        while j0 < n {
            let cols = tile_extent(n - j0, DC);
            let sums = if rows == DR {
                dot_columns::<DR>(cols, a, b, k, i0, j0)
            } else if rows == 2 {
                dot_columns::<2>(cols, a, b, k, i0, j0)
            } else {
                dot_columns::<1>(cols, a, b, k, i0, j0)
            };
            for (r, row) in sums.chunks_exact(DC).take(rows).enumerate() {
                let start = (i0 + r) * ldc + j0;
                for (dst, &s) in c[start..start + cols].iter_mut().zip(row) {
                    *dst = if beta == 0.0 {
                        alpha * s
                    } else {
                        beta * *dst + alpha * s
                    };
                }
            }
            j0 += cols;
        }
        i0 += rows;
    }
}

/// Dispatches a dot-product tile of `R` rows on its number of columns.
#[inline(always)]
fn dot_columns<const R: usize>(
    cols: usize,
    a: Operand<'_>,
    b: Operand<'_>,
    k: usize,
    i0: usize,
    j0: usize,
) -> [f32; DR * DC] {
    if cols == DC {
        dot_tile::<R, DC>(a, b, k, i0, j0)
    } else if cols == 2 {
        dot_tile::<R, 2>(a, b, k, i0, j0)
    } else {
        dot_tile::<R, 1>(a, b, k, i0, j0)
    }
}

/// `R × C` dot products of rows `i0..` of `A` with rows `j0..` of `B` (length `k`),
/// returned with the product of rows `i0 + r` and `j0 + q` at `[r·DC + q]`.
#[inline(never)]
fn dot_tile<const R: usize, const C: usize>(
    a: Operand<'_>,
    b: Operand<'_>,
    k: usize,
    i0: usize,
    j0: usize,
) -> [f32; DR * DC] {
    let achunks: [(&[[f32; LANES]], &[f32]); R] =
        core::array::from_fn(|r| a.row(i0 + r, k).as_chunks());
    let bchunks: [(&[[f32; LANES]], &[f32]); C] =
        core::array::from_fn(|q| b.row(j0 + q, k).as_chunks());
    let mut acc = [[splat(0.0); C]; R];
    let step = |acc: &mut [[Vector; C]; R], av: [Vector; R], bv: [Vector; C]| {
        for (accr, a) in acc.iter_mut().zip(av) {
            for (x, &bq) in accr.iter_mut().zip(bv.iter()) {
                *x = a.mul_add(bq, *x);
            }
        }
    };
    for p in 0..k / LANES {
        step(
            &mut acc,
            achunks.map(|s| simd::load(&s.0[p])),
            bchunks.map(|s| simd::load(&s.0[p])),
        );
    }
    if !k.is_multiple_of(LANES) {
        step(
            &mut acc,
            achunks.map(|s| simd::load_partial(s.1, 0.0)),
            bchunks.map(|s| simd::load_partial(s.1, 0.0)),
        );
    }
    // Lay the accumulators out as [r·DC + q] and reduce LANES of them at a time.
    let mut all = [splat(0.0); DR * DC];
    for (r, accr) in acc.iter().enumerate() {
        all[r * DC..r * DC + C].copy_from_slice(accr);
    }
    let mut out = [0.0; DR * DC];
    let used = (R * DC).div_ceil(LANES);
    for (o, group) in out
        .as_chunks_mut::<LANES>()
        .0
        .iter_mut()
        .zip(all.as_chunks::<LANES>().0)
        .take(used)
    {
        *o = simd::hsum_lanes(*group).to_array();
    }
    out
}

const _: () = assert!(
    (DR * DC).is_multiple_of(LANES),
    "the dot tile reduces whole groups of LANES sums"
);
