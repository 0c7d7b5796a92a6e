//! A model's parameter declaration as constant data: a tree of named tensors, modules
//! and repeated modules, from which tensor counts, names, shapes, initialisation and a
//! file's layout are all computed.

use core::fmt::{self, Write};

use crate::error::Shape;

/// How a tensor is initialised by [`init`](super::init).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zero (biases, word2vec's output vectors).
    Zeros,
    /// All one (LayerNorm gains).
    Ones,
    /// Uniform in `[−bound, bound)`.
    Uniform {
        /// Half the width of the interval.
        bound: f32,
    },
    /// Uniform with standard deviation `1/√fan_in`, where `fan_in` is the first
    /// dimension (the input width of an `[in][out]` weight), so that activations keep
    /// their scale: `bound = √3/√fan_in`.
    UniformFanIn,
    /// Normal with mean 0 and standard deviation `sd` (GPT-2's `0.02`).
    Normal {
        /// The standard deviation.
        sd: f32,
    },
    /// Normal with mean 0 and standard deviation `sd/√(2n)`, `n` the number of repeats of
    /// the innermost repeated module holding the tensor ([`Entry::repeats`]): GPT-2's
    /// residual projections, scaled for the `2·L` residual additions of `L` layers.
    ResidualNormal {
        /// The standard deviation before scaling.
        sd: f32,
    },
    /// The sinusoidal position encoding of *Attention Is All You Need* on a `[T, D]`
    /// tensor: `PE[t][2i] = sin(t/10000^(2i/D))`, `PE[t][2i+1] = cos(t/10000^(2i/D))`.
    Sinusoidal,
}

/// One node of a declaration: a name (empty for a module's root) and what it holds.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The name, a segment of the full dotted names; may itself contain dots
    /// (`"wte.weight"`). An empty name adds no segment.
    pub name: &'static str,
    /// A tensor, or what a module holds.
    pub node: Node,
}

/// What an [`Entry`] holds.
#[derive(Clone, Copy, Debug)]
pub enum Node {
    /// A tensor of this shape, initialised as `init` says.
    Tensor {
        /// The shape.
        shape: Shape,
        /// The initialisation.
        init: Init,
    },
    /// A module: entries in order.
    Module {
        /// The entries.
        entries: &'static [Entry],
    },
    /// `count` copies of a module, named by their index (`h.0`, `h.1`, …).
    Repeat {
        /// How many.
        count: usize,
        /// The module repeated.
        item: &'static Entry,
    },
}

/// The shape and initialisation of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spec {
    /// The shape.
    pub shape: Shape,
    /// The initialisation.
    pub init: Init,
}

impl Spec {
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.shape.elements()
    }

    /// Whether the tensor has no element.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Entry {
    /// A tensor entry.
    pub const fn tensor(name: &'static str, shape: Shape, init: Init) -> Entry {
        Entry {
            name,
            node: Node::Tensor { shape, init },
        }
    }

    /// A module entry.
    pub const fn module(name: &'static str, entries: &'static [Entry]) -> Entry {
        Entry {
            name,
            node: Node::Module { entries },
        }
    }

    /// This entry under another name (a sub-module as its parent names it).
    pub const fn named(self, name: &'static str) -> Entry {
        Entry {
            name,
            node: self.node,
        }
    }

    /// `count` copies of `item`, named by index.
    pub const fn repeat(name: &'static str, count: usize, item: &'static Entry) -> Entry {
        Entry {
            name,
            node: Node::Repeat { count, item },
        }
    }

    /// Number of tensors under this entry.
    pub const fn tensors(&self) -> usize {
        self.counts().0
    }

    /// Number of `f32` elements under this entry.
    pub const fn elements(&self) -> usize {
        self.counts().1
    }

    /// `(tensors, elements)` under this entry, in one walk.
    const fn counts(&self) -> (usize, usize) {
        match self.node {
            Node::Tensor { shape, .. } => (1, shape.elements()),
            Node::Module { entries } => {
                // Saturating: a declaration built at run time with absurd sizes gives
                // counts that no file matches, not an overflow.
                let (mut t, mut e) = (0_usize, 0_usize);
                let mut i = 0;
                while i < entries.len() {
                    let (ti, ei) = entries[i].counts();
                    t = t.saturating_add(ti);
                    e = e.saturating_add(ei);
                    i += 1;
                }
                (t, e)
            }
            Node::Repeat { count, item } => {
                let (t, e) = item.counts();
                (count.saturating_mul(t), count.saturating_mul(e))
            }
        }
    }

    /// Length of the longest full name under this entry.
    pub const fn max_name_len(&self) -> usize {
        let own = if self.name.is_empty() {
            0
        } else {
            self.name.len() + 1
        };
        let below = match self.node {
            Node::Tensor { .. } => return self.name.len(),
            Node::Module { entries } => {
                let mut m = 0;
                let mut i = 0;
                while i < entries.len() {
                    let l = entries[i].max_name_len();
                    if l > m {
                        m = l;
                    }
                    i += 1;
                }
                m
            }
            Node::Repeat { count, item } => {
                digits(count.saturating_sub(1) as u64) + 1 + item.max_name_len()
            }
        };
        own + below
    }

    /// The shape and initialisation of tensor `i` (declaration order), if there is one.
    pub fn spec(&self, i: usize) -> Option<Spec> {
        let mut found = None;
        self.walk(i, &mut |seg| {
            if let Segment::Tensor(spec) = seg {
                found = Some(spec);
            }
            Ok(())
        })
        .ok()?;
        found
    }

    /// How many times the innermost repeated module holding tensor `i` is repeated (GPT-2's
    /// number of layers for a block's tensor); 1 outside any.
    pub fn repeats(&self, i: usize) -> usize {
        let mut repeats = 1;
        let _ = self.walk(i, &mut |seg| {
            if let Segment::Index { count, .. } = seg {
                repeats = count;
            }
            Ok(())
        });
        repeats
    }

    /// Writes the full name of tensor `i` (nothing if there is none).
    pub fn write_name(&self, i: usize, w: &mut dyn Write) -> fmt::Result {
        let mut first = true;
        self.walk(i, &mut |seg| {
            let mut sep = |w: &mut dyn Write| {
                if !core::mem::take(&mut first) {
                    w.write_char('.')?;
                }
                Ok(())
            };
            match seg {
                Segment::Name(s) if !s.is_empty() => {
                    sep(w)?;
                    w.write_str(s)
                }
                Segment::Index { index: k, .. } => {
                    sep(w)?;
                    write!(w, "{k}")
                }
                _ => Ok(()),
            }
        })
    }

    /// The index of the tensor whose full name is `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.find_from(name, 0)
    }

    /// [`find`](Self::find) for a name written without `prefix`, which the declared
    /// names of this module's entries begin with (GPT-2's `transformer.`): the tensor
    /// whose full name is `prefix` followed by `name`.
    pub fn find_unprefixed(&self, prefix: &str, name: &str) -> Option<usize> {
        let Node::Module { entries } = self.node else {
            return None;
        };
        // Only a root's entries (an unnamed module) carry the prefix in their names.
        if !self.name.is_empty() {
            return None;
        }
        let mut base = 0;
        for e in entries {
            if let Some(short) = e.name.strip_prefix(prefix) {
                let entry = Entry {
                    name: short,
                    node: e.node,
                };
                if let Some(i) = entry.find_from(name, base) {
                    return Some(i);
                }
            }
            base += e.tensors();
        }
        None
    }

    fn find_from(&self, key: &str, base: usize) -> Option<usize> {
        let rest = strip_segment(key, self.name)?;
        match self.node {
            Node::Tensor { .. } => rest.is_empty().then_some(base),
            Node::Module { entries } => {
                let mut b = base;
                for e in entries {
                    if let Some(i) = e.find_from(rest, b) {
                        return Some(i);
                    }
                    b += e.tensors();
                }
                None
            }
            Node::Repeat { count, item } => {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let (num, after) = rest.split_at(digits);
                // Written without leading zeros, as `write_name` writes them.
                if num.is_empty() || (num.len() > 1 && num.starts_with('0')) {
                    return None;
                }
                let k: usize = num.parse().ok()?;
                if k >= count {
                    return None;
                }
                let after = match after.strip_prefix('.') {
                    Some(a) if !a.is_empty() => a,
                    _ if after.is_empty() => after,
                    _ => return None,
                };
                item.find_from(after, base + k * item.tensors())
            }
        }
    }

    /// Calls `visit` with the segments leading to tensor `i`, ending with its spec.
    fn walk(&self, mut i: usize, visit: &mut dyn FnMut(Segment) -> fmt::Result) -> fmt::Result {
        visit(Segment::Name(self.name))?;
        match self.node {
            Node::Tensor { shape, init } => {
                if i == 0 {
                    visit(Segment::Tensor(Spec { shape, init }))?;
                }
                Ok(())
            }
            Node::Module { entries } => {
                for e in entries {
                    let n = e.tensors();
                    if i < n {
                        return e.walk(i, visit);
                    }
                    i -= n;
                }
                Ok(())
            }
            Node::Repeat { count, item } => {
                let n = item.tensors();
                if n == 0 || i / n >= count {
                    return Ok(());
                }
                visit(Segment::Index {
                    index: i / n,
                    count,
                })?;
                item.walk(i % n, visit)
            }
        }
    }
}

/// A step of [`Entry::walk`].
enum Segment {
    Name(&'static str),
    /// Item `index` of a module repeated `count` times.
    Index {
        index: usize,
        count: usize,
    },
    Tensor(Spec),
}

/// `key` after the segment `name` and its dot: `Some("")` if `key` is `name`, `None`
/// if it does not begin with it; an empty `name` takes nothing.
fn strip_segment<'k>(key: &'k str, name: &str) -> Option<&'k str> {
    if name.is_empty() {
        return Some(key);
    }
    let rest = key.strip_prefix(name)?;
    if rest.is_empty() {
        return Some(rest);
    }
    match rest.strip_prefix('.') {
        Some(r) if !r.is_empty() => Some(r),
        _ => None,
    }
}

/// Decimal digits of `n`.
pub(crate) const fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The name of one tensor of a model, kept small (a pointer to the model's declaration
/// and an index) so that [`Error`](crate::Error) stays small, and written out
/// (`h.3.attn.c_attn.weight`) by its `Display` without allocating.
///
/// It compares equal to another name or to a string with the same text.
///
#[cfg_attr(feature = "attention", doc = "```")]
#[cfg_attr(not(feature = "attention"), doc = "```ignore")]
/// use edgegrad::attention::AttentionLm;
/// let name = AttentionLm::<8, 4, 4, 2>::tensor_name(2).unwrap();
/// assert_eq!(name, "w_q");
/// assert_eq!(name.to_string(), "w_q");
/// ```
#[derive(Clone, Copy)]
pub struct TensorName {
    root: &'static Entry,
    index: u32,
}

impl TensorName {
    /// The name of tensor `index` of the declaration `root` (`None` past its last
    /// tensor).
    pub fn new(root: &'static Entry, index: usize) -> Option<TensorName> {
        if index < root.tensors() {
            Some(TensorName {
                root,
                index: u32::try_from(index).ok()?,
            })
        } else {
            None
        }
    }

    /// The tensor named `name` in `root`, if there is one.
    pub fn find(root: &'static Entry, name: &str) -> Option<TensorName> {
        TensorName::new(root, root.find(name)?)
    }

    /// The tensor's position in its model's declaration.
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Whether the name is `s`.
    pub fn is(&self, s: &str) -> bool {
        let mut m = Matcher { rest: s, ok: true };
        self.root.write_name(self.index(), &mut m).is_ok() && m.ok && m.rest.is_empty()
    }
}

/// A `fmt::Write` that checks what is written against a string, piece by piece.
struct Matcher<'a> {
    rest: &'a str,
    ok: bool,
}

impl Write for Matcher<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.rest.strip_prefix(s) {
            Some(r) if self.ok => self.rest = r,
            _ => self.ok = false,
        }
        Ok(())
    }
}

/// A `fmt::Write` into a byte slice that fails when the slice is full.
#[cfg_attr(not(feature = "safetensors"), allow(dead_code))]
pub(crate) struct ByteWriter<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
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

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.write_name(self.index(), f)
    }
}

impl fmt::Debug for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TensorName(\"{self}\")")
    }
}

impl PartialEq for TensorName {
    fn eq(&self, other: &TensorName) -> bool {
        if core::ptr::eq(self.root, other.root) && self.index == other.index {
            return true;
        }
        // The two texts compared a window of bytes at a time: no buffer sized by the
        // names, whatever their length.
        let (a, b) = (self.len(), other.len());
        a == b
            && (0..a)
                .step_by(WINDOW)
                .all(|at| self.window(at).0 == other.window(at).0)
    }
}

/// Bytes of a name compared at a time by `TensorName`'s equality.
const WINDOW: usize = 32;

/// A `fmt::Write` that keeps the `WINDOW` bytes from `skip` on and counts them all.
struct Window {
    skip: usize,
    bytes: [u8; WINDOW],
    kept: usize,
    total: usize,
}

impl Write for Window {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.total >= self.skip && self.kept < WINDOW {
                self.bytes[self.kept] = b;
                self.kept += 1;
            }
            self.total += 1;
        }
        Ok(())
    }
}

impl TensorName {
    /// The name's bytes from `at` (at most `WINDOW` of them), and its whole length.
    fn window(&self, at: usize) -> ([u8; WINDOW], usize, usize) {
        let mut w = Window {
            skip: at,
            bytes: [0; WINDOW],
            kept: 0,
            total: 0,
        };
        let _ = self.root.write_name(self.index(), &mut w);
        (w.bytes, w.kept, w.total)
    }

    /// Length of the name in bytes.
    fn len(&self) -> usize {
        self.window(usize::MAX).2
    }
}

impl Eq for TensorName {}

impl PartialEq<str> for TensorName {
    fn eq(&self, other: &str) -> bool {
        self.is(other)
    }
}

impl PartialEq<&str> for TensorName {
    fn eq(&self, other: &&str) -> bool {
        self.is(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN: Entry = Entry::module(
        "",
        &[
            Entry::tensor("weight", Shape::new(&[4]), Init::Ones),
            Entry::tensor("bias", Shape::new(&[4]), Init::Zeros),
        ],
    );
    const BLOCK: Entry = Entry::module(
        "",
        &[
            LN.named("ln_1"),
            Entry::tensor("attn.c_attn.weight", Shape::new(&[4, 12]), Init::Zeros),
        ],
    );
    const MODEL: Entry = Entry::module(
        "",
        &[
            Entry::tensor("wte.weight", Shape::new(&[10, 4]), Init::Zeros),
            Entry::repeat("h", 12, &BLOCK),
            LN.named("ln_f"),
        ],
    );
    static ROOT: Entry = MODEL;

    fn name(i: usize) -> TensorName {
        TensorName::new(&ROOT, i).unwrap()
    }

    #[test]
    fn names_counts_and_specs_follow_the_tree() {
        assert_eq!(MODEL.tensors(), 1 + 12 * 3 + 2);
        assert_eq!(MODEL.elements(), 40 + 12 * (8 + 48) + 8);
        assert!(name(0).is("wte.weight"));
        assert!(name(1).is("h.0.ln_1.weight"));
        assert!(name(3).is("h.0.attn.c_attn.weight"));
        assert!(name(34).is("h.11.ln_1.weight"));
        assert!(name(35).is("h.11.ln_1.bias"));
        assert!(name(37).is("ln_f.weight"));
        assert!(!name(37).is("ln_f.weigh"));
        assert!(!name(37).is("ln_f.weights"));
        assert!(TensorName::new(&ROOT, 39).is_none());
        assert_eq!(
            MODEL.spec(3),
            Some(Spec {
                shape: Shape::new(&[4, 12]),
                init: Init::Zeros
            })
        );
        assert_eq!(MODEL.max_name_len(), "h.11.attn.c_attn.weight".len());
        for i in 0..MODEL.tensors() {
            let mut bytes = [0_u8; 128];
            let mut buf = ByteWriter {
                buf: &mut bytes,
                pos: 0,
            };
            MODEL.write_name(i, &mut buf).unwrap();
            let len = buf.pos;
            let s = core::str::from_utf8(&bytes[..len]).unwrap();
            assert_eq!(MODEL.find(s), Some(i), "{s}");
        }
        for bad in [
            "",
            "h",
            "h.",
            "h.1",
            "h.12.ln_1.bias",
            "h.01.ln_1.bias",
            "h.1.",
            "wte",
            "wte.weight.",
            "ln_f",
            "x.wte.weight",
        ] {
            assert_eq!(MODEL.find(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_compare_by_text() {
        static OTHER: Entry = Entry::module(
            "",
            &[Entry::tensor("wte.weight", Shape::new(&[1]), Init::Zeros)],
        );
        let a = name(0);
        let b = TensorName::new(&OTHER, 0).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, name(1));
        assert_eq!(a, "wte.weight");
    }
}
