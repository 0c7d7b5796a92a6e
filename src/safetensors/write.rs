//! Writing a safetensors file: the header text, its exact length as a `const`, and the
//! little-endian data.

use core::fmt::{self, Write};

use super::Layout;
use crate::error::{Error, Result};

/// Decimal digits of `n`.
const fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Length of the header text [`write_header`] writes, before padding. It mirrors
/// `write_header` piece by piece (a `const fn` cannot format); a unit test holds the two
/// together over many shapes.
const fn header_len(layout: &Layout) -> usize {
    // {"__metadata__":{"model":"KIND"
    let mut n = r#"{"__metadata__":{"model":""#.len() + layout.kind.len() + 1;
    let mut i = 0;
    while i < layout.sizes.len() {
        let (key, value) = layout.sizes[i];
        // ,"KEY":"VALUE"
        n += 1 + 1 + key.len() + 3 + digits(value as u64) + 1;
        i += 1;
    }
    n += 1; // }
    let mut offset: u64 = 0;
    let mut t = 0;
    while t < layout.tensors.len() {
        let spec = &layout.tensors[t];
        // ,"NAME":{"dtype":"F32","shape":[
        n += 2 + spec.name.len() + r#"":{"dtype":"F32","shape":["#.len();
        let mut d = 0;
        while d < spec.shape.rank() {
            n += digits(spec.shape.dim(d)) + (d > 0) as usize;
            d += 1;
        }
        let end = offset + 4 * spec.len() as u64;
        // ],"data_offsets":[BEGIN,END]}
        n += r#"],"data_offsets":["#.len() + digits(offset) + 1 + digits(end) + 2;
        offset = end;
        t += 1;
    }
    n + 1 // }
}

/// Header length with the space padding that puts the data at a multiple of 64 from
/// the file's start: a multiple of 8 as safetensors asks, and a cache line so that
/// weights used in place load as fast as an owned model's.
pub(super) const fn padded_header_len(layout: &Layout) -> usize {
    (header_len(layout) + 8).next_multiple_of(64) - 8
}

/// Writes the header text (unpadded). Names and kinds are plain identifiers, so no
/// JSON escaping is needed.
fn write_header<W: Write>(w: &mut W, layout: &Layout) -> fmt::Result {
    write!(w, r#"{{"__metadata__":{{"model":"{}""#, layout.kind)?;
    for (key, value) in layout.sizes {
        write!(w, r#","{key}":"{value}""#)?;
    }
    w.write_char('}')?;
    let mut offset = 0;
    for spec in layout.tensors {
        write!(w, r#","{}":{{"dtype":"F32","shape":["#, spec.name)?;
        for (d, dim) in spec.shape.dims().iter().enumerate() {
            if d > 0 {
                w.write_char(',')?;
            }
            write!(w, "{dim}")?;
        }
        let end = offset + 4 * spec.len();
        write!(w, r#"],"data_offsets":[{offset},{end}]}}"#)?;
        offset = end;
    }
    w.write_char('}')
}

/// A `fmt::Write` into a byte slice that fails when the slice is full.
struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.pos + s.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.pos = end;
        Ok(())
    }
}

/// Writes the whole file; see [`Layout::export`].
pub(super) fn write_file(layout: &Layout, tensors: &[&[f32]], out: &mut [u8]) -> Result<usize> {
    let total = layout.file_len();
    if out.len() < total {
        return Err(Error::InvalidLength {
            what: "safetensors output buffer",
            found: out.len(),
            min: total,
            max: usize::MAX,
        });
    }
    crate::error::check_len("safetensors tensors", layout.tensors.len(), tensors.len())?;
    for (spec, t) in layout.tensors.iter().zip(tensors) {
        crate::error::check_len(spec.name, spec.len(), t.len())?;
    }
    let header = padded_header_len(layout);
    let (len_field, rest) = out[..total].split_at_mut(8);
    let (head, mut data) = rest.split_at_mut(header);
    len_field.copy_from_slice(&(header as u64).to_le_bytes());
    let mut w = ByteWriter { buf: head, pos: 0 };
    // The buffer was sized by `header_len`, which the tests keep equal to what this
    // writes; an overflow here would be a bug in that pairing.
    write_header(&mut w, layout).map_err(|_| Error::InvalidParameter {
        what: "safetensors header",
        expected: "a header no longer than its computed length",
    })?;
    let pos = w.pos;
    head[pos..].fill(b' ');
    for t in tensors {
        let (bytes, rest) = data.split_at_mut(4 * t.len());
        for (chunk, x) in bytes.as_chunks_mut::<4>().0.iter_mut().zip(t.iter()) {
            *chunk = x.to_le_bytes();
        }
        data = rest;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safetensors::TensorSpec;

    /// Counts what `write_header` writes.
    struct Counter(usize);
    impl Write for Counter {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }

    #[test]
    fn digits_counts_decimal_digits() {
        for (n, d) in [(0, 1), (9, 1), (10, 2), (99, 2), (100, 3), (u64::MAX, 20)] {
            assert_eq!(digits(n), d, "{n}");
        }
    }

    #[test]
    fn header_len_matches_what_is_written() {
        let sizes_list: [&[usize]; 5] = [&[1, 1], &[9, 10], &[99, 100], &[1000, 7], &[123456, 5]];
        for sizes in sizes_list {
            for &rows in sizes {
                for &cols in sizes {
                    let tensors: &[TensorSpec] = &[
                        TensorSpec::matrix("a", rows, cols),
                        TensorSpec::vector("bias", cols),
                        TensorSpec::matrix("w_long_name", cols, rows),
                    ];
                    let meta: &[(&str, usize)] = &[("rows", rows), ("cols", cols)];
                    let mut c = Counter(0);
                    let layout = Layout {
                        kind: "test.kind",
                        sizes: meta,
                        tensors,
                    };
                    write_header(&mut c, &layout).unwrap();
                    assert_eq!(c.0, header_len(&layout), "{rows}×{cols}");
                    assert_eq!((8 + padded_header_len(&layout)) % 64, 0);
                    assert!(padded_header_len(&layout) - c.0 < 64);
                }
            }
        }
    }
}
