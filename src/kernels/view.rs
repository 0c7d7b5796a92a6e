//! Row-major matrix views over slices: how the matrix kernels learn their shapes.

use crate::error::{Error, Result};

/// Checks `rows·cols == len` (without overflow) for a view's slice.
fn check_shape(len: usize, rows: usize, cols: usize) -> Result<()> {
    match rows.checked_mul(cols) {
        Some(n) if n == len => Ok(()),
        Some(n) => Err(Error::LengthMismatch {
            what: "matrix data (rows × cols)",
            expected: n,
            found: len,
        }),
        None => Err(Error::InvalidParameter {
            what: "matrix shape",
            expected: "rows × cols within usize",
        }),
    }
}

/// A read-only row-major `rows × cols` matrix over a slice: element `(i, j)` is
/// `data[i·cols + j]`.
///
/// Creating a view checks the slice length once; the kernels then rely on it.
///
/// ```
/// use edgegrad::MatRef;
/// let a = MatRef::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)?;
/// assert_eq!(a.row(1), &[4.0, 5.0, 6.0]);
/// assert!(MatRef::new(&[1.0, 2.0], 2, 3).is_err());
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatRef<'a> {
    /// A view of `data` as `rows × cols`; an error unless `data.len() == rows·cols`.
    #[inline]
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        check_shape(data.len(), rows, cols)?;
        Ok(Self { data, rows, cols })
    }

    /// A `1 × n` view of a vector.
    #[inline]
    pub fn row_vector(data: &'a [f32]) -> Self {
        Self {
            data,
            rows: 1,
            cols: data.len(),
        }
    }

    /// A view whose shape the caller guarantees (`data.len() == rows·cols`), for types
    /// such as [`Matrix`](crate::tensor::Matrix) that hold it in their type.
    #[inline]
    pub(crate) fn from_rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self { data, rows, cols }
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the row stride).
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The underlying row-major slice.
    #[inline]
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i` (panics if `i ≥ rows`, like slice indexing).
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the rows (none when `cols == 0`).
    #[inline]
    pub fn row_iter(&self) -> impl Iterator<Item = &'a [f32]> + 'a {
        let cols = self.cols;
        let rows = if cols == 0 { 0 } else { self.rows };
        self.data.chunks_exact(cols.max(1)).take(rows)
    }
}

/// A mutable row-major `rows × cols` matrix over a slice; see [`MatRef`].
///
/// ```
/// use edgegrad::MatMut;
/// let mut buf = [0.0; 6];
/// let mut c = MatMut::new(&mut buf, 3, 2)?;
/// c.row_mut(2)[1] = 7.0;
/// assert_eq!(buf[5], 7.0);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatMut<'a> {
    /// A mutable view of `data` as `rows × cols`; an error unless
    /// `data.len() == rows·cols`.
    #[inline]
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        check_shape(data.len(), rows, cols)?;
        Ok(Self { data, rows, cols })
    }

    /// A `1 × n` view of a vector.
    #[inline]
    pub fn row_vector(data: &'a mut [f32]) -> Self {
        let cols = data.len();
        Self {
            data,
            rows: 1,
            cols,
        }
    }

    /// A view whose shape the caller guarantees; see [`MatRef::from_rows`].
    #[inline]
    pub(crate) fn from_rows(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        debug_assert_eq!(data.len(), rows * cols);
        Self { data, rows, cols }
    }

    /// Number of rows.
    #[inline]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the row stride).
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// A shorter-lived mutable view of the same matrix, so a view can be passed to
    /// several kernels in turn.
    #[inline]
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// A read-only view of the same matrix.
    #[inline]
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// The underlying row-major slice.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }

    /// Consumes the view, giving back the slice with the view's lifetime.
    #[inline]
    pub fn into_slice(self) -> &'a mut [f32] {
        self.data
    }

    /// Row `i`, mutable (panics if `i ≥ rows`, like slice indexing).
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the mutable rows (none when `cols == 0`).
    #[inline]
    pub fn row_iter_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        let cols = self.cols;
        let rows = if cols == 0 { 0 } else { self.rows };
        self.data.chunks_exact_mut(cols.max(1)).take(rows)
    }
}
