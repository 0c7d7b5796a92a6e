//! Row-major matrix views over slices, with a row stride: how the matrix kernels learn
//! their shapes, and how a column block (one attention head's part of Q, K or V) or a
//! window of rows (a KV cache's first `t` positions) is passed without a copy.

use crate::error::{Error, Result, check_len_range};

/// Checks `rows·cols == len` (without overflow) for a contiguous view's slice.
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

/// Checks that `rows` rows of `cols` elements, `stride` apart, fit in `len` elements:
/// `stride ≥ cols` and `(rows − 1)·stride + cols ≤ len` (nothing for `rows = 0`).
fn check_strided(len: usize, rows: usize, cols: usize, stride: usize) -> Result<()> {
    if stride < cols {
        return Err(Error::InvalidParameter {
            what: "matrix stride",
            expected: "a row stride of at least the number of columns",
        });
    }
    if rows == 0 {
        return Ok(());
    }
    match (rows - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(cols))
    {
        Some(n) if n <= len => Ok(()),
        Some(n) => Err(Error::LengthMismatch {
            what: "strided matrix data ((rows − 1) × stride + cols)",
            expected: n,
            found: len,
        }),
        None => Err(Error::InvalidParameter {
            what: "matrix shape",
            expected: "rows × stride within usize",
        }),
    }
}

/// The range of the data a view of `rows × cols` at `stride` spans, from its first
/// element (empty for an empty view).
#[inline]
fn span(rows: usize, cols: usize, stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * stride + cols
    }
}

/// The row stride of a view whose data is sliced exactly to its span: with two rows or
/// more, `len = (rows − 1)·stride + cols`. Deriving it keeps a view at four words (it
/// is passed by value through every kernel and layer, and on a microcontroller each
/// word of it is stack).
/// A contiguous view (the common case, and the one row accesses in loops take) costs a
/// multiplication, not a division.
#[inline(always)]
fn stride_of(len: usize, rows: usize, cols: usize) -> usize {
    if rows <= 1 || cols == 0 || len == rows * cols {
        cols
    } else {
        (len - cols) / (rows - 1)
    }
}

/// A read-only `rows × cols` matrix over a slice, row-major with a row stride: element
/// `(i, j)` is `data[i·stride + j]`, and `stride ≥ cols` (the BLAS "leading dimension").
///
/// [`new`](Self::new) makes a contiguous view (`stride = cols`); [`strided`](Self::strided)
/// any other. A view is checked once when it is made; the kernels then rely on it.
/// [`rows`](Self::rows_range) and [`cols`](Self::cols_range) give sub-views without
/// copying: a column block keeps the parent's stride, so one attention head's columns
/// of a `T × 3D` Q|K|V buffer are a `T × D/N` view.
///
/// ```
/// use edgegrad::MatRef;
/// let a = MatRef::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3)?;
/// assert_eq!(a.row(1), &[4.0, 5.0, 6.0]);
/// assert!(MatRef::new(&[1.0, 2.0], 2, 3).is_err());
/// // The last two columns, without a copy: rows are still 3 apart.
/// let right = a.cols_range(1, 2)?;
/// assert_eq!((right.shape(), right.stride()), ((2, 2), 3));
/// assert_eq!(right.row(1), &[5.0, 6.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatRef<'a> {
    /// A contiguous view of `data` as `rows × cols`; an error unless
    /// `data.len() == rows·cols`.
    #[inline]
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        check_shape(data.len(), rows, cols)?;
        Ok(Self { data, rows, cols })
    }

    /// A view of `rows × cols` whose rows start `stride` elements apart in `data`; an
    /// error unless `stride ≥ cols` and the last row ends within `data`
    /// (`(rows − 1)·stride + cols ≤ data.len()`).
    ///
    /// ```
    /// use edgegrad::MatRef;
    /// // Every other row of a 4 × 2 matrix.
    /// let data = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    /// let even = MatRef::strided(&data, 2, 2, 4)?;
    /// assert_eq!(even.row(1), &[4.0, 5.0]);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    #[inline]
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Result<Self> {
        check_strided(data.len(), rows, cols, stride)?;
        Ok(Self {
            data: &data[..span(rows, cols, stride)],
            rows,
            cols,
        })
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

    /// A contiguous view whose shape the caller guarantees (`data.len() == rows·cols`),
    /// for types such as [`Matrix`](crate::tensor::Matrix) that hold it in their type.
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

    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Elements from the start of one row to the start of the next (`≥ cols`; `cols`
    /// when there is at most one row, where the distance does not matter).
    #[inline(always)]
    pub fn stride(&self) -> usize {
        stride_of(self.data.len(), self.rows, self.cols)
    }

    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Whether the rows follow each other without a gap (`stride == cols`), so that
    /// [`as_slice`](Self::as_slice) is exactly the `rows·cols` elements.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.data.len() == self.rows * self.cols
    }

    /// The underlying slice, from the first element to the last: exactly the matrix,
    /// row-major, for a contiguous view; with the gaps between rows for a strided one.
    #[inline]
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i` (panics if `i ≥ rows`, like slice indexing; empty if `cols = 0`).
    #[inline(always)]
    pub fn row(&self, i: usize) -> &'a [f32] {
        if self.cols == 0 {
            return &[];
        }
        let from = i * self.stride();
        &self.data[from..from + self.cols]
    }

    /// Iterator over the rows (none when `cols == 0`).
    #[inline]
    pub fn row_iter(&self) -> impl Iterator<Item = &'a [f32]> + 'a {
        let (cols, stride) = (self.cols, self.stride());
        let rows = if cols == 0 { 0 } else { self.rows };
        self.data
            .chunks(stride.max(1))
            .take(rows)
            .map(move |r| &r[..cols])
    }

    /// Rows `start .. start + n` as a view ([`Error::InvalidLength`] if they are not all
    /// rows of this one).
    #[inline(always)]
    pub fn rows_range(&self, start: usize, n: usize) -> Result<MatRef<'a>> {
        check_len_range("matrix rows", n, 0, self.rows.saturating_sub(start))?;
        let from = start.saturating_mul(self.stride()).min(self.data.len());
        Ok(MatRef {
            data: &self.data[from..from + span(n, self.cols, self.stride())],
            rows: n,
            cols: self.cols,
        })
    }

    /// The first `n` rows ([`rows_range`](Self::rows_range) from 0).
    #[inline(always)]
    pub fn top(&self, n: usize) -> Result<MatRef<'a>> {
        self.rows_range(0, n)
    }

    /// Columns `start .. start + n` as a view with this view's stride
    /// ([`Error::InvalidLength`] if they are not all columns of this one).
    #[inline(always)]
    pub fn cols_range(&self, start: usize, n: usize) -> Result<MatRef<'a>> {
        check_len_range("matrix columns", n, 0, self.cols.saturating_sub(start))?;
        let from = start.min(self.data.len());
        Ok(MatRef {
            data: &self.data[from..from + span(self.rows, n, self.stride())],
            rows: self.rows,
            cols: n,
        })
    }
}

/// A mutable row-major `rows × cols` matrix over a slice, with a row stride; see
/// [`MatRef`].
///
/// ```
/// use edgegrad::MatMut;
/// let mut buf = [0.0; 6];
/// let mut c = MatMut::new(&mut buf, 3, 2)?;
/// c.row_mut(2)[1] = 7.0;
/// c.cols_range_mut(0, 1)?.row_mut(1)[0] = 1.0;
/// assert_eq!(buf, [0.0, 0.0, 1.0, 0.0, 0.0, 7.0]);
/// # Ok::<(), edgegrad::Error>(())
/// ```
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatMut<'a> {
    /// A contiguous mutable view of `data` as `rows × cols`; an error unless
    /// `data.len() == rows·cols`.
    #[inline]
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        check_shape(data.len(), rows, cols)?;
        Ok(Self { data, rows, cols })
    }

    /// A mutable view with a row stride; see [`MatRef::strided`].
    #[inline]
    pub fn strided(data: &'a mut [f32], rows: usize, cols: usize, stride: usize) -> Result<Self> {
        check_strided(data.len(), rows, cols, stride)?;
        Ok(Self {
            data: &mut data[..span(rows, cols, stride)],
            rows,
            cols,
        })
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

    /// A contiguous view whose shape the caller guarantees; see [`MatRef::from_rows`].
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

    /// Number of columns.
    #[inline]
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Elements from the start of one row to the start of the next (`≥ cols`; `cols`
    /// when there is at most one row, where the distance does not matter).
    #[inline(always)]
    pub fn stride(&self) -> usize {
        stride_of(self.data.len(), self.rows, self.cols)
    }

    /// `(rows, cols)`.
    #[inline]
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Whether the rows follow each other without a gap; see [`MatRef::is_contiguous`].
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.data.len() == self.rows * self.cols
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

    /// Consumes the view into a read-only one with the same lifetime.
    #[inline]
    pub fn into_ref(self) -> MatRef<'a> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// The underlying slice, from the first element to the last (see
    /// [`MatRef::as_slice`]).
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }

    /// Consumes the view, giving back the underlying slice with the view's lifetime.
    #[inline]
    pub fn into_slice(self) -> &'a mut [f32] {
        self.data
    }

    /// Row `i`, mutable (panics if `i ≥ rows`, like slice indexing; empty if
    /// `cols = 0`).
    #[inline(always)]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        if self.cols == 0 {
            return &mut [];
        }
        let from = i * self.stride();
        &mut self.data[from..from + self.cols]
    }

    /// Iterator over the mutable rows (none when `cols == 0`).
    #[inline]
    pub fn row_iter_mut(&mut self) -> impl Iterator<Item = &mut [f32]> {
        let (cols, stride) = (self.cols, self.stride());
        let rows = if cols == 0 { 0 } else { self.rows };
        self.data
            .chunks_mut(stride.max(1))
            .take(rows)
            .map(move |r| &mut r[..cols])
    }

    /// Sets every element of the matrix (not the gaps between its rows) to `v`.
    #[inline]
    pub fn fill(&mut self, v: f32) {
        for row in self.row_iter_mut() {
            row.fill(v);
        }
    }

    /// Rows `start .. start + n` as a mutable view; see [`MatRef::rows_range`].
    #[inline(always)]
    pub fn rows_range_mut(&mut self, start: usize, n: usize) -> Result<MatMut<'_>> {
        check_len_range("matrix rows", n, 0, self.rows.saturating_sub(start))?;
        let from = start.saturating_mul(self.stride()).min(self.data.len());
        let len = span(n, self.cols, self.stride());
        Ok(MatMut {
            data: &mut self.data[from..from + len],
            rows: n,
            cols: self.cols,
        })
    }

    /// The first `n` rows as a mutable view.
    #[inline(always)]
    pub fn top_mut(&mut self, n: usize) -> Result<MatMut<'_>> {
        self.rows_range_mut(0, n)
    }

    /// Columns `start .. start + n` as a mutable view; see [`MatRef::cols_range`].
    #[inline(always)]
    pub fn cols_range_mut(&mut self, start: usize, n: usize) -> Result<MatMut<'_>> {
        check_len_range("matrix columns", n, 0, self.cols.saturating_sub(start))?;
        let from = start.min(self.data.len());
        let len = span(self.rows, n, self.stride());
        Ok(MatMut {
            data: &mut self.data[from..from + len],
            rows: self.rows,
            cols: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_views_see_the_right_elements() {
        let data: [f32; 12] = core::array::from_fn(|i| i as f32);
        let m = MatRef::new(&data, 3, 4).unwrap();
        let block = m.cols_range(1, 2).unwrap();
        assert_eq!(block.stride(), 4);
        assert_eq!(block.row(0), &[1.0, 2.0]);
        assert_eq!(block.row(2), &[9.0, 10.0]);
        assert_eq!(block.as_slice().len(), 2 * 4 + 2);
        let mut rows = block.row_iter();
        assert_eq!(rows.next(), Some(&[1.0, 2.0][..]));
        assert_eq!(rows.next(), Some(&[5.0, 6.0][..]));
        assert_eq!(rows.next(), Some(&[9.0, 10.0][..]));
        assert_eq!(rows.next(), None);
        let lower = block.rows_range(1, 2).unwrap();
        assert_eq!(lower.row(0), &[5.0, 6.0]);
        assert_eq!(lower.row(1), &[9.0, 10.0]);
        assert!(m.cols_range(3, 2).is_err());
        assert!(m.rows_range(2, 2).is_err());
        assert_eq!(m.rows_range(3, 0).unwrap().shape(), (0, 4));
        assert_eq!(m.cols_range(4, 0).unwrap().shape(), (3, 0));
    }

    #[test]
    fn strided_views_check_their_extent() {
        let data = [0.0_f32; 10];
        assert!(MatRef::strided(&data, 3, 2, 4).is_ok()); // rows end at 2·4 + 2 = 10
        assert!(MatRef::strided(&data, 3, 3, 4).is_err()); // 11 > 10
        assert!(MatRef::strided(&data, 2, 5, 4).is_err()); // stride < cols
        assert!(MatRef::strided(&data, 0, 5, 5).is_ok());
        assert!(MatRef::strided(&data, usize::MAX, 1, usize::MAX).is_err());
        // The stride is derived from the span: kept by sub-views of two rows or more,
        // and `cols` where it no longer matters.
        let v = MatRef::strided(&data, 3, 2, 4).unwrap();
        assert_eq!((v.stride(), v.is_contiguous()), (4, false));
        assert_eq!(v.rows_range(1, 2).unwrap().stride(), 4);
        assert_eq!(v.cols_range(1, 1).unwrap().stride(), 4);
        let one = v.rows_range(2, 1).unwrap();
        assert_eq!((one.stride(), one.is_contiguous()), (2, true));
        assert_eq!(
            v.cols_range(2, 0)
                .unwrap()
                .rows_range(1, 2)
                .unwrap()
                .shape(),
            (2, 0)
        );
        assert_eq!(MatRef::new(&data, 5, 2).unwrap().stride(), 2);
        let mut buf = [0.0_f32; 10];
        let mut v = MatMut::strided(&mut buf, 3, 2, 4).unwrap();
        assert_eq!(v.rows_range_mut(0, 2).unwrap().stride(), 4);
        v.fill(1.0);
        assert_eq!(buf, [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]);
    }
}
