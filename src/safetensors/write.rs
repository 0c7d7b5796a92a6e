//! Writing a safetensors file: the header text, its exact length as a `const`, and the
//! little-endian data.

use core::fmt::{self, Write};

use crate::error::{Error, Result};
use crate::params::{ByteWriter, Entry, Node, digits};

/// Length of the header text [`write_header`] writes, before padding. It mirrors
/// `write_header` piece by piece (a `const fn` cannot format); a unit test holds the two
/// together over many shapes.
pub(super) const fn header_len(root: &Entry, kind: &str, sizes: &[(&str, usize)]) -> usize {
    // {"__metadata__":{"model":"KIND"
    let mut n = r#"{"__metadata__":{"model":""#.len() + escaped_len(kind) + 1;
    let mut i = 0;
    while i < sizes.len() {
        let (key, value) = sizes[i];
        // ,"KEY":"VALUE"
        n += 1 + 1 + escaped_len(key) + 3 + digits(value as u64) + 1;
        i += 1;
    }
    n += 1; // }
    let mut offset: u64 = 0;
    n += entries_len(root, 0, &mut offset);
    n + 1 // }
}

/// Length of `s` as a JSON string's contents: a quote or a backslash takes two bytes,
/// a control character six (`\u00XX`), the rest as they are.
const fn escaped_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        n += match b[i] {
            b'"' | b'\\' => 2,
            0..0x20 => 6,
            _ => 1,
        };
        i += 1;
    }
    n
}

/// A `fmt::Write` that writes JSON string contents: what [`escaped_len`] counts.
struct Escaped<'w, W: Write>(&'w mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(self.0, "\\u{:04x}", c as u32)?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Header bytes of the tensors under `entry`, whose full names begin with `prefix`
/// bytes; `offset` is the data offset of the first, advanced past the last.
const fn entries_len(entry: &Entry, prefix: usize, offset: &mut u64) -> usize {
    let own = if entry.name.is_empty() {
        prefix
    } else {
        prefix + escaped_len(entry.name) + 1
    };
    match entry.node {
        Node::Tensor { shape, .. } => {
            // ,"NAME":{"dtype":"F32","shape":[
            let mut n =
                2 + prefix + escaped_len(entry.name) + r#"":{"dtype":"F32","shape":["#.len();
            let mut d = 0;
            while d < shape.rank() {
                n += digits(shape.dim(d)) + (d > 0) as usize;
                d += 1;
            }
            let end = offset.saturating_add((shape.elements() as u64).saturating_mul(4));
            // ],"data_offsets":[BEGIN,END]}
            n += r#"],"data_offsets":["#.len() + digits(*offset) + 1 + digits(end) + 2;
            *offset = end;
            n
        }
        Node::Module { entries } => {
            let mut n = 0;
            let mut i = 0;
            while i < entries.len() {
                n += entries_len(&entries[i], own, offset);
                i += 1;
            }
            n
        }
        Node::Repeat { count, item } => {
            let mut n = 0;
            let mut k = 0;
            while k < count {
                n += entries_len(item, own + digits(k as u64) + 1, offset);
                k += 1;
            }
            n
        }
    }
}

/// Header length with the space padding that puts the data at a multiple of 64 from
/// the file's start: a multiple of 8 as safetensors asks, and a cache line so that
/// weights used in place load as fast as an owned model's.
pub(super) const fn padded_header_len(root: &Entry, kind: &str, sizes: &[(&str, usize)]) -> usize {
    (header_len(root, kind, sizes) + 8).next_multiple_of(64) - 8
}

/// Writes the header text (unpadded).
fn write_header<W: Write>(
    w: &mut W,
    root: &Entry,
    kind: &str,
    sizes: &[(&str, usize)],
) -> fmt::Result {
    // Names, kinds and keys are the declarations' literals, escaped as JSON requires
    // (plain identifiers, in practice, come out unchanged).
    w.write_str(r#"{"__metadata__":{"model":""#)?;
    Escaped(w).write_str(kind)?;
    w.write_char('"')?;
    for (key, value) in sizes {
        w.write_str(",\"")?;
        Escaped(w).write_str(key)?;
        write!(w, r#"":"{value}""#)?;
    }
    w.write_char('}')?;
    let mut offset = 0;
    for i in 0..root.tensors() {
        let Some(spec) = root.spec(i) else {
            continue;
        };
        w.write_str(",\"")?;
        root.write_name(i, &mut Escaped(w))?;
        w.write_str(r#"":{"dtype":"F32","shape":["#)?;
        for (d, dim) in spec.shape.dims().enumerate() {
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

/// Writes the file of a model whose declaration is `root` and whose tensors `tensor(i)`
/// gives; returns the bytes written.
pub(super) fn write_file<'t>(
    root: &Entry,
    (kind, sizes): (&str, &[(&str, usize)]),
    tensor: &dyn Fn(usize) -> &'t [f32],
    out: &mut [u8],
) -> Result<usize> {
    let header = padded_header_len(root, kind, sizes);
    let total = (8 + header).saturating_add(root.elements().saturating_mul(4));
    if out.len() < total {
        return Err(Error::InvalidLength {
            what: "safetensors output buffer",
            found: out.len(),
            min: total,
            max: usize::MAX,
        });
    }
    let n = root.tensors();
    for i in 0..n {
        let want = root.spec(i).map_or(0, |s| s.len());
        crate::error::check_len("safetensors tensor", want, tensor(i).len())?;
    }
    let (len_field, rest) = out[..total].split_at_mut(8);
    let (head, mut data) = rest.split_at_mut(header);
    len_field.copy_from_slice(&(header as u64).to_le_bytes());
    let mut w = ByteWriter { buf: head, pos: 0 };
    // The buffer was sized by `header_len`, which the tests keep equal to what this
    // writes; an overflow here would be a bug in that pairing.
    write_header(&mut w, root, kind, sizes).map_err(|_| Error::InvalidParameter {
        what: "safetensors header",
        expected: "a header no longer than its computed length",
    })?;
    let pos = w.pos;
    head[pos..].fill(b' ');
    for i in 0..n {
        let t = tensor(i);
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
    extern crate std;
    use super::*;
    use crate::error::Shape;
    use std::boxed::Box;

    /// Counts what `write_header` writes.
    struct Counter(usize);
    impl Write for Counter {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }

    #[test]
    fn header_len_matches_what_is_written() {
        use crate::params::Init;
        let sizes_list: [&[u64]; 5] = [&[1, 1], &[9, 10], &[99, 100], &[1000, 7], &[123456, 5]];
        for sizes in sizes_list {
            for &rows in sizes {
                for &cols in sizes {
                    let leaf =
                        |name, dims: &[u64]| Entry::tensor(name, Shape::new(dims), Init::Zeros);
                    let block: &'static [Entry] = Box::leak(Box::new([
                        leaf("a", &[rows, cols]),
                        leaf("bias", &[cols]),
                        leaf("w_long_name", &[cols, rows, 2]),
                    ]));
                    let item: &'static Entry = Box::leak(Box::new(Entry::module("", block)));
                    let top: &'static [Entry] = Box::leak(Box::new([
                        leaf("x.weight", &[rows]),
                        Entry::repeat("h", 12, item),
                        Entry::module("ln_f", block),
                        leaf("four", &[1, 2, 3, cols]),
                    ]));
                    let root = Entry::module("", top);
                    let meta: &[(&str, usize)] =
                        &[("rows", rows as usize), ("cols", cols as usize)];
                    let mut c = Counter(0);
                    write_header(&mut c, &root, "test.kind", meta).unwrap();
                    assert_eq!(c.0, header_len(&root, "test.kind", meta), "{rows}×{cols}");
                    let padded = padded_header_len(&root, "test.kind", meta);
                    assert_eq!((8 + padded) % 64, 0);
                    assert!(padded - c.0 < 64);
                }
            }
        }
    }
}
