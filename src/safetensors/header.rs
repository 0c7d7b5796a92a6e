//! Reading a safetensors header: the JSON parsed by `serde-json-core`, each entry
//! matched to the model's declaration by name, then every check of the file against
//! the declaration — in memory bounded by a constant, whatever the number of tensors:
//! the header is parsed again for each window of tensors a later check needs.

use core::fmt;
use core::ops::Range;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json_core::de::{Deserializer, Error as JsonError};
use serde_json_core::str::{EscapedStr, EscapedStringFragment, EscapedStringFragmentIter};

use super::aliases::{Aliases, dtype_size};
use crate::error::{Error, FormatProblem, Result, Shape};
use crate::params::{Entry, TensorName};

/// Largest header accepted, in bytes (1 MiB). The models' own headers take well under
/// 1 KiB per tensor; the limit leaves room for the metadata other tools write while
/// refusing a corrupted length field before anything is parsed.
pub const MAX_HEADER_LEN: u64 = 1 << 20;

/// Tensors whose byte ranges one parse of the header keeps (two `usize` each on the
/// stack). Models with at most this many tensors are read with a single parse; the
/// window is small because on a microcontroller the reader runs beside the caller's
/// whole stack.
pub(super) const WINDOW: usize = 8;

/// Tensors one parse checks for duplicates (a bit each).
const SEEN_BITS: usize = 256;

/// A tensor's bytes, `begin..end`, relative to the data section.
pub(super) type Span = (usize, usize);

/// The dtypes safetensors defines, so that a wrong one can be named in the error.
const DTYPES: [&str; 20] = [
    "BOOL", "U8", "I8", "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16",
    "F16", "BF16", "I32", "U32", "F32", "F64", "C64", "I64", "U64",
];

/// What a tensor entry must look like.
const ENTRY_SCHEMA: &str = r#"a tensor entry must be {"dtype": string, "shape": [integers], "data_offsets": [begin, end]}"#;

/// Where parsing stands, for an error that says more than the JSON parser can: the first
/// problem found by the visitors (they stop the parse at once), and what the value being
/// parsed should look like (for type errors).
struct Diagnosis {
    problem: Option<Error>,
    context: &'static str,
    tensor: Option<TensorName>,
}

impl Diagnosis {
    /// Records `problem` and stops the parse.
    fn fail<E: de::Error>(&mut self, tensor: Option<TensorName>, problem: FormatProblem) -> E {
        self.record(Error::Safetensors { tensor, problem })
    }

    /// Records `error` and stops the parse.
    fn record<E: de::Error>(&mut self, error: Error) -> E {
        self.problem = Some(error);
        E::custom("")
    }
}

/// A tensor entry as written, before it is checked against the model.
struct RawEntry<'de> {
    dtype: &'de str,
    shape: Shape,
    offsets: [u64; 2],
}

/// A header whose every check passed: where the data section starts, and a way to
/// find each tensor's byte range (from the ranges kept by the first parse, or by
/// parsing again).
pub(super) struct Checked<'b> {
    root: &'static Entry,
    aliases: &'b Aliases,
    header: &'b [u8],
    /// Offset of the data section in the file.
    data_start: usize,
    /// Spans of tensors `start..start + WINDOW`, relative to the data section: the
    /// first window after the check, a later one after [`span`](Self::span) needed it.
    spans: [Span; WINDOW],
    start: usize,
}

impl Checked<'_> {
    /// Calls `f(i, range)` for every tensor `i`, `range` its bytes within the file, once
    /// each, in no particular order.
    pub(super) fn each(&self, f: &mut dyn FnMut(usize, Range<usize>)) {
        let n = self.root.tensors();
        let at = self.data_start;
        if n <= WINDOW && self.start == 0 {
            for (i, &(b, e)) in self.spans[..n].iter().enumerate() {
                f(i, b + at..e + at);
            }
            return;
        }
        // The header parsed without error before, so it does again.
        let _ = scan(self.root, self.aliases, self.header, &mut |i, raw| {
            if i < n {
                f(
                    i,
                    raw.offsets[0] as usize + at..raw.offsets[1] as usize + at,
                );
            }
            Ok(())
        });
    }

    /// The byte range within the file of tensor `i` (asked for in order, one parse of
    /// the header per window of `WINDOW` tensors after the first).
    pub(super) fn span(&mut self, i: usize) -> Range<usize> {
        let start = i - i % WINDOW;
        if start != self.start {
            let spans = &mut self.spans;
            *spans = [(0, 0); WINDOW];
            let n = self.root.tensors();
            let _ = scan(self.root, self.aliases, self.header, &mut |j, raw| {
                if j >= n {
                    return Ok(());
                }
                if let Some(o) = j.checked_sub(start).and_then(|k| spans.get_mut(k)) {
                    *o = (raw.offsets[0] as usize, raw.offsets[1] as usize);
                }
                Ok(())
            });
            self.start = start;
        }
        let (b, e) = self.spans[i - start];
        b + self.data_start..e + self.data_start
    }
}

/// The tiling check: tensors visited in order of (start, end, index) must each begin
/// where the last ended, from 0 to the end of the data section.
struct Sweep {
    root: &'static Entry,
    covered: usize,
    last: Option<(usize, usize, usize)>,
}

impl Sweep {
    fn visit(&mut self, key: (usize, usize, usize)) -> Result<()> {
        let (start, end, i) = key;
        let n = self.root.tensors();
        if start < self.covered && (i >= n || self.last.is_some_and(|(_, _, j)| j >= n)) {
            return Err(extra("its data overlaps another entry's"));
        }
        if start < self.covered {
            // covered > 0 only after a tensor, so there is a last one.
            if let Some(with) = self
                .last
                .and_then(|(_, _, j)| TensorName::new(self.root, j))
            {
                return Err(Error::Safetensors {
                    tensor: TensorName::new(self.root, i),
                    problem: FormatProblem::Overlap { with },
                });
            }
        }
        if start > self.covered {
            return Err(Error::Safetensors {
                tensor: None,
                problem: FormatProblem::UnusedData {
                    begin: self.covered,
                    end: start,
                },
            });
        }
        self.covered = end;
        self.last = Some(key);
        Ok(())
    }
}

/// The tiling check of a model with more tensors than a window: each round parses the
/// header for the `WINDOW` smallest keys above the last one handled. Out of line, so
/// that its keys take stack only for such models.
#[inline(never)]
fn sweep_by_windows(
    (root, aliases): (&'static Entry, &Aliases),
    header: &[u8],
    entries: usize,
    sweep: &mut Sweep,
) -> Result<()> {
    let mut handled = 0;
    while handled < entries {
        let mut keys = [(0_usize, 0_usize, 0_usize); WINDOW];
        let mut count = 0;
        let last = sweep.last;
        scan(root, aliases, header, &mut |i, raw| {
            let key = (raw.offsets[0] as usize, raw.offsets[1] as usize, i);
            if last.is_some_and(|l| key <= l) {
                return Ok(());
            }
            // Insertion into the sorted keys, dropping the largest when full.
            let mut j = count.min(WINDOW - 1);
            if count == WINDOW && key >= keys[j] {
                return Ok(());
            }
            while j > 0 && keys[j - 1] > key {
                keys[j] = keys[j - 1];
                j -= 1;
            }
            keys[j] = key;
            count = (count + 1).min(WINDOW);
            Ok(())
        })?;
        if count == 0 {
            break;
        }
        for &key in &keys[..count] {
            sweep.visit(key)?;
        }
        handled += count;
    }
    Ok(())
}

/// Checks `bytes` as a safetensors file of the declaration `root`: see
/// [`crate::safetensors`] for the checks, which run in the order listed there.
// Inlined into its two callers (themselves out of line): one frame for both measured
// less peak stack on the Cortex-M4F than two.
#[inline]
pub(super) fn check<'b>(
    root: &'static Entry,
    aliases: &'b Aliases,
    bytes: &'b [u8],
) -> Result<Checked<'b>> {
    let file = |problem| Error::Safetensors {
        tensor: None,
        problem,
    };
    let Some((len_field, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(file(FormatProblem::TooShort { len: bytes.len() }));
    };
    let header_len = u64::from_le_bytes(*len_field);
    if header_len > MAX_HEADER_LEN {
        return Err(file(FormatProblem::HeaderTooLong {
            header_len,
            max: MAX_HEADER_LEN,
        }));
    }
    let split = usize::try_from(header_len).ok();
    let Some((header, data)) = split.and_then(|n| rest.split_at_checked(n)) else {
        return Err(file(FormatProblem::HeaderPastEnd {
            header_len,
            file_len: bytes.len(),
        }));
    };
    if let Err(reason) = lint(header) {
        return Err(file(FormatProblem::Json { reason }));
    }
    let n = root.tensors();
    let name = |i: usize| TensorName::new(root, i);
    let data_len = data.len() as u64;

    // 1. Every entry in file order: a tensor of the model, once, F32, its shape, its
    //    bytes inside the data section and as long as its shape. The first range
    //    problem in the model's order is reported after the parse and the presence
    //    checks, as its tensor comes in the model's order.
    let mut first: [Span; WINDOW] = [(0, 0); WINDOW];
    let mut seen = [0_u64; SEEN_BITS / 64];
    let mut range_error: Option<(usize, Error)> = None;
    let (mut extras_present, mut tied_span) = (0, None);
    scan(root, aliases, header, &mut |i, raw| {
        if i >= n {
            if mark(&mut seen, i, 0) {
                return Err(extra("it appears twice in the header"));
            }
            let span = check_extra(root, aliases, i - n, raw, data_len)?;
            if aliases.is_tied(i - n) {
                tied_span = Some(span);
            }
            extras_present += 1;
            return Ok(());
        }
        let tensor = name(i);
        let fail = |problem| Err(Error::Safetensors { tensor, problem });
        if mark(&mut seen, i, 0) {
            return fail(FormatProblem::DuplicateTensor);
        }
        if !json_str_eq(raw.dtype, "F32") {
            let found = DTYPES
                .iter()
                .find(|&&d| json_str_eq(raw.dtype, d))
                .copied()
                .unwrap_or("unknown");
            return fail(FormatProblem::WrongDtype { found });
        }
        let expected = root.spec(i).map(|s| s.shape).unwrap_or(Shape::EMPTY);
        if raw.shape != expected {
            return fail(FormatProblem::WrongShape {
                expected,
                found: raw.shape,
            });
        }
        let [begin, end] = raw.offsets;
        let problem = if begin > end || end > data_len {
            Some(FormatProblem::OffsetsOutOfRange { begin, end })
        } else {
            let want = (expected.elements() as u64).saturating_mul(4);
            (end - begin != want).then_some(FormatProblem::WrongByteLength {
                expected: want,
                found: end - begin,
            })
        };
        if let Some(problem) = problem {
            if range_error.as_ref().is_none_or(|(j, _)| i < *j) {
                range_error = Some((i, Error::Safetensors { tensor, problem }));
            }
        } else if let Some(slot) = first.get_mut(i) {
            *slot = (begin as usize, end as usize);
        }
        Ok(())
    })?;

    // 2. Every tensor present (and, past the first SEEN_BITS, none twice).
    for base in (0..n + aliases.extras()).step_by(SEEN_BITS) {
        if base > 0 {
            seen = [0; SEEN_BITS / 64];
            scan(root, aliases, header, &mut |i, _| {
                if mark(&mut seen, i, base) {
                    return Err(match name(i) {
                        Some(tensor) => Error::Safetensors {
                            tensor: Some(tensor),
                            problem: FormatProblem::DuplicateTensor,
                        },
                        None => extra("it appears twice in the header"),
                    });
                }
                Ok(())
            })?;
        }
        for i in base..n.min(base + SEEN_BITS) {
            if seen[(i - base) / 64] & (1 << ((i - base) % 64)) == 0 {
                return Err(Error::Safetensors {
                    tensor: name(i),
                    problem: FormatProblem::MissingTensor,
                });
            }
        }
    }
    if let Some((_, e)) = range_error {
        return Err(e);
    }

    // 3. The tensors tile the data section: in order of (start, end, index), each
    //    begins where the last ended, from 0 to the end.
    let mut sweep = Sweep {
        root,
        covered: 0,
        last: None,
    };
    if n <= WINDOW && extras_present == 0 {
        // Insertion sort of at most WINDOW indices by their keys.
        let key = |i: usize| (first[i].0, first[i].1, i);
        let mut order = [0_u8; WINDOW];
        for i in 0..n {
            let mut j = i;
            while j > 0 && key(usize::from(order[j - 1])) > key(i) {
                order[j] = order[j - 1];
                j -= 1;
            }
            order[j] = i as u8;
        }
        for &i in &order[..n] {
            sweep.visit(key(usize::from(i)))?;
        }
    } else {
        sweep_by_windows((root, aliases), header, n + extras_present, &mut sweep)?;
    }
    if sweep.covered != data.len() {
        return Err(file(FormatProblem::UnusedData {
            begin: sweep.covered,
            end: data.len(),
        }));
    }
    if let (Some((b, e)), Some(tied)) = (tied_span, aliases.tied) {
        let mut to = first.get(tied.to).copied().filter(|_| n <= WINDOW);
        if to.is_none() {
            scan(root, aliases, header, &mut |i, raw| {
                if i == tied.to {
                    to = Some((raw.offsets[0] as usize, raw.offsets[1] as usize));
                }
                Ok(())
            })?;
        }
        let same = to.is_some_and(|(tb, te)| data.get(b..e) == data.get(tb..te));
        if !same {
            return Err(extra(
                "the tied tensor differs from the tensor it is tied to",
            ));
        }
    }
    Ok(Checked {
        root,
        aliases,
        header,
        data_start: 8 + header.len(),
        spans: first,
        start: 0,
    })
}

/// An error about an entry besides the model's tensors.
fn extra(reason: &'static str) -> Error {
    Error::Safetensors {
        tensor: None,
        problem: FormatProblem::Extra { reason },
    }
}

/// Checks extra entry `e` of `aliases` (the tied tensor: `F32` and its tensor's shape;
/// a buffer: a dtype with a byte size) and its byte range; returns the range.
fn check_extra(
    root: &Entry,
    aliases: &Aliases,
    e: usize,
    raw: &RawEntry<'_>,
    data_len: u64,
) -> Result<Span> {
    let size = match aliases.tied.filter(|_| aliases.is_tied(e)) {
        Some(tied) => {
            let shape = root.spec(tied.to).map(|s| s.shape);
            if !json_str_eq(raw.dtype, "F32") || Some(raw.shape) != shape {
                return Err(extra(
                    "the tied tensor must be F32 with the shape of the tensor it is tied to",
                ));
            }
            4
        }
        None => DTYPES
            .iter()
            .find(|&&d| json_str_eq(raw.dtype, d))
            .and_then(|d| dtype_size(d))
            .ok_or_else(|| extra("a buffer's dtype has no byte size"))?,
    };
    if raw.shape.rank() > Shape::MAX_RANK {
        return Err(extra("a buffer's rank is above 4"));
    }
    let [begin, end] = raw.offsets;
    if begin > end || end > data_len {
        return Err(extra("its data offsets lie outside the data section"));
    }
    if end - begin != (raw.shape.elements() as u64).saturating_mul(size) {
        return Err(extra("its byte length does not match its dtype and shape"));
    }
    Ok((begin as usize, end as usize))
}

/// Marks tensor `i` as seen if it falls in the bits' window from `base`; whether it
/// was seen before.
fn mark(seen: &mut [u64; SEEN_BITS / 64], i: usize, base: usize) -> bool {
    let Some(k) = i.checked_sub(base).filter(|&k| k < SEEN_BITS) else {
        return false;
    };
    let (word, bit) = (k / 64, 1_u64 << (k % 64));
    let before = seen[word] & bit != 0;
    seen[word] |= bit;
    before
}

/// Parses the header, calling `on_tensor(i, entry)` for each entry of a tensor of
/// `root` (file order). The first problem — a JSON or schema error, an entry that is
/// not a tensor of the model, or one `on_tensor` returns — ends the parse.
fn scan(
    root: &'static Entry,
    aliases: &Aliases,
    header: &[u8],
    on_tensor: &mut dyn FnMut(usize, &RawEntry<'_>) -> Result<()>,
) -> Result<()> {
    let mut diagnosis = Diagnosis {
        problem: None,
        context: "the header must be a JSON object",
        tensor: None,
    };
    let mut de = Deserializer::new(header, None);
    let parsed = HeaderSeed {
        root,
        aliases,
        on_tensor,
        diagnosis: &mut diagnosis,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end().map(|_| ()));
    match parsed {
        Ok(()) => Ok(()),
        Err(e) => Err(diagnosis.problem.unwrap_or(match e {
            JsonError::InvalidType => Error::Safetensors {
                tensor: diagnosis.tensor,
                problem: FormatProblem::Schema {
                    reason: diagnosis.context,
                },
            },
            e => Error::Safetensors {
                tensor: None,
                problem: FormatProblem::Json {
                    reason: json_reason(e),
                },
            },
        })),
    }
}

/// The entry a JSON key (as written, escapes validated by [`lint`]) names: tensor `i`
/// of `root` (`i < n`), under its declared name or without the optional prefix, or
/// `n + e` for extra entry `e` of `aliases`.
fn resolve(root: &'static Entry, aliases: &Aliases, raw: &str) -> Option<usize> {
    if raw.contains('\\') {
        return resolve_escaped(root, aliases, raw);
    }
    root.find(raw)
        .or_else(|| aliases.find_unprefixed(root, raw))
        .or_else(|| Some(root.tensors() + aliases.extra(raw)?))
}

/// [`resolve`] for a key with escapes: each tensor's name compared with the key's
/// unescaped characters as they come, so a key of any length needs no buffer. (Writers
/// rarely escape plain names; this path is rare, and linear in the number of tensors.)
#[inline(never)]
fn resolve_escaped(root: &'static Entry, aliases: &Aliases, raw: &str) -> Option<usize> {
    let unescaped = || Unescaped {
        fragments: EscapedStr(raw).fragments(),
        current: "".chars(),
    };
    let named = |prefix: &str| {
        (0..root.tensors()).find(|&i| {
            let mut m = SkipPrefix {
                prefix,
                inner: CharMatcher {
                    chars: unescaped(),
                    ok: true,
                },
            };
            root.write_name(i, &mut m).is_ok()
                && m.prefix.is_empty()
                && m.inner.ok
                && m.inner.chars.next().is_none()
        })
    };
    if let Some(i) = named("") {
        return Some(i);
    }
    if !aliases.optional_prefix.is_empty()
        && let Some(i) = named(aliases.optional_prefix)
    {
        return Some(i);
    }
    // The extras' names are short: unescaped into a small buffer (a longer key is
    // none of them).
    let mut buf = [0_u8; 96];
    let mut len = 0;
    for c in unescaped() {
        let end = len + c.len_utf8();
        c.encode_utf8(buf.get_mut(len..end)?);
        len = end;
    }
    let key = core::str::from_utf8(buf.get(..len)?).ok()?;
    Some(root.tensors() + aliases.extra(key)?)
}

/// A `fmt::Write` that drops `prefix` from the start of what is written (failing the
/// match if the text does not begin with it) and passes the rest on.
struct SkipPrefix<'p, W> {
    prefix: &'p str,
    inner: W,
}

impl<W: fmt::Write> fmt::Write for SkipPrefix<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let k = self.prefix.len().min(s.len());
        if k > 0 {
            let (p, rest) = self.prefix.split_at_checked(k).ok_or(fmt::Error)?;
            let (head, tail) = s.split_at_checked(k).ok_or(fmt::Error)?;
            if p != head {
                return Err(fmt::Error);
            }
            self.prefix = rest;
            return self.inner.write_str(tail);
        }
        self.inner.write_str(s)
    }
}

/// The characters a JSON string (escapes validated by [`lint`]) denotes.
struct Unescaped<'a> {
    fragments: EscapedStringFragmentIter<'a>,
    current: core::str::Chars<'a>,
}

impl Iterator for Unescaped<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.current.next() {
                return Some(c);
            }
            match self.fragments.next()? {
                Ok(EscapedStringFragment::NotEscaped(s)) => self.current = s.chars(),
                Ok(EscapedStringFragment::Escaped(c)) => return Some(c),
                Err(_) => return None,
            }
        }
    }
}

/// A `fmt::Write` that checks what is written against a sequence of characters.
struct CharMatcher<I> {
    chars: I,
    ok: bool,
}

impl<I: Iterator<Item = char>> fmt::Write for CharMatcher<I> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.chars.next() != Some(c) {
                self.ok = false;
            }
        }
        Ok(())
    }
}

/// What `serde-json-core` lets through and the JSON grammar does not: a header that
/// does not begin with `{` (the format requires it), bytes that are not UTF-8, control
/// characters or invalid escapes in strings (the parser hands strings over as written),
/// and a comma before a list's first element (`[,1]`, which it accepts).
fn lint(header: &[u8]) -> core::result::Result<(), &'static str> {
    if header.first() != Some(&b'{') {
        return Err("the header must begin with '{'");
    }
    let text = core::str::from_utf8(header).map_err(|_| "the header is not UTF-8")?;
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'"' => loop {
                match bytes.next() {
                    None => return Ok(()), // the parser reports the unterminated string
                    Some(b'"') => break,
                    Some(b'\\') => match bytes.next() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                        Some(b'u') => {
                            for _ in 0..4 {
                                if !bytes.next().is_some_and(|h| h.is_ascii_hexdigit()) {
                                    return Err("invalid string escape");
                                }
                            }
                        }
                        _ => return Err("invalid string escape"),
                    },
                    Some(c) if c < 0x20 => return Err("control character in a string"),
                    Some(_) => {}
                }
            },
            b'[' if bytes.clone().find(|c| !c.is_ascii_whitespace()) == Some(b',') => {
                return Err("comma before a list's first element");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether the JSON string `raw` (as written, escapes validated by [`lint`]) denotes
/// `want`. Writers rarely escape plain names, but `"tok\u005femb"` is `tok_emb` too.
fn json_str_eq(raw: &str, want: &str) -> bool {
    if !raw.contains('\\') {
        return raw == want;
    }
    let mut rest = want.as_bytes();
    for fragment in EscapedStr(raw).fragments() {
        let mut buf = [0_u8; 4];
        let part = match fragment {
            Ok(EscapedStringFragment::NotEscaped(s)) => s.as_bytes(),
            Ok(EscapedStringFragment::Escaped(c)) => c.encode_utf8(&mut buf).as_bytes(),
            Err(_) => return false,
        };
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// A short description of a JSON syntax error.
fn json_reason(e: JsonError) -> &'static str {
    match e {
        JsonError::EofWhileParsingList
        | JsonError::EofWhileParsingObject
        | JsonError::EofWhileParsingString
        | JsonError::EofWhileParsingNumber
        | JsonError::EofWhileParsingValue => "unexpected end of the header",
        JsonError::ExpectedColon => "expected ':'",
        JsonError::ExpectedListCommaOrEnd => "expected ',' or ']'",
        JsonError::ExpectedObjectCommaOrEnd => "expected ',' or '}'",
        JsonError::ExpectedSomeIdent | JsonError::ExpectedSomeValue => "expected a value",
        JsonError::InvalidNumber => "invalid number (offsets and sizes are integers ≥ 0)",
        JsonError::InvalidUnicodeCodePoint | JsonError::InvalidEscapeSequence => {
            "invalid string escape or UTF-8"
        }
        JsonError::KeyMustBeAString => "object key is not a string",
        JsonError::TrailingCharacters => "characters after the JSON value",
        JsonError::TrailingComma => "trailing comma",
        _ => "malformed JSON",
    }
}

/// The top-level object: `__metadata__` and one entry per tensor.
struct HeaderSeed<'s, 'f> {
    root: &'static Entry,
    aliases: &'s Aliases,
    on_tensor: &'s mut (dyn FnMut(usize, &RawEntry<'_>) -> Result<()> + 'f),
    diagnosis: &'s mut Diagnosis,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> core::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a safetensors header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<(), A::Error> {
        let mut seen_metadata = false;
        let mut index = 0;
        while let Some(key) = map.next_key::<&'de str>()? {
            if json_str_eq(key, "__metadata__") {
                if seen_metadata {
                    return Err(self.diagnosis.fail(
                        None,
                        FormatProblem::Schema {
                            reason: "__metadata__ appears twice",
                        },
                    ));
                }
                seen_metadata = true;
                self.diagnosis.context = "__metadata__ must map strings to strings";
                self.diagnosis.tensor = None;
                map.next_value_seed(MetadataSeed)?;
            } else {
                let Some(i) = resolve(self.root, self.aliases, key) else {
                    return Err(self
                        .diagnosis
                        .fail(None, FormatProblem::UnknownTensor { index }));
                };
                let tensor = TensorName::new(self.root, i);
                self.diagnosis.tensor = tensor;
                self.diagnosis.context = ENTRY_SCHEMA;
                let raw = map.next_value_seed(EntrySeed {
                    diagnosis: self.diagnosis,
                    tensor,
                })?;
                if let Err(e) = (self.on_tensor)(i, &raw) {
                    return Err(self.diagnosis.record(e));
                }
            }
            index += 1;
        }
        Ok(())
    }
}

/// `__metadata__`: a map of strings to strings (or `null`), whose content the models do
/// not need.
struct MetadataSeed;

impl<'de> DeserializeSeed<'de> for MetadataSeed {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> core::result::Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_none<E: de::Error>(self) -> core::result::Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> core::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> core::result::Result<(), A::Error> {
        while map.next_entry::<&'de str, &'de str>()?.is_some() {}
        Ok(())
    }
}

struct EntrySeed<'s> {
    diagnosis: &'s mut Diagnosis,
    tensor: Option<TensorName>,
}

impl<'de, 's> DeserializeSeed<'de> for EntrySeed<'s> {
    type Value = RawEntry<'de>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> core::result::Result<RawEntry<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = RawEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tensor entry")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> core::result::Result<RawEntry<'de>, A::Error> {
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        while let Some(key) = map.next_key::<&'de str>()? {
            let field = ["dtype", "shape", "data_offsets"]
                .into_iter()
                .find(|f| json_str_eq(key, f))
                .unwrap_or("");
            let duplicate = match field {
                "dtype" => dtype.replace(map.next_value::<&'de str>()?).is_some(),
                "shape" => shape.replace(map.next_value_seed(ShapeSeed)?).is_some(),
                "data_offsets" => offsets
                    .replace(map.next_value_seed(OffsetsSeed {
                        diagnosis: &mut *self.diagnosis,
                        tensor: self.tensor,
                    })?)
                    .is_some(),
                _ => {
                    return Err(self.diagnosis.fail(
                        self.tensor,
                        FormatProblem::Schema {
                            reason: "unknown field in a tensor entry",
                        },
                    ));
                }
            };
            if duplicate {
                return Err(self.diagnosis.fail(
                    self.tensor,
                    FormatProblem::Schema {
                        reason: "repeated field in a tensor entry",
                    },
                ));
            }
        }
        match (dtype, shape, offsets) {
            (Some(dtype), Some(shape), Some(offsets)) => Ok(RawEntry {
                dtype,
                shape,
                offsets,
            }),
            _ => Err(self.diagnosis.fail(
                self.tensor,
                FormatProblem::Schema {
                    reason: "a tensor entry lacks dtype, shape or data_offsets",
                },
            )),
        }
    }
}

/// `shape`: a list of non-negative integers.
struct ShapeSeed;

impl<'de> DeserializeSeed<'de> for ShapeSeed {
    type Value = Shape;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> core::result::Result<Shape, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of dimensions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<Shape, A::Error> {
        let mut shape = Shape::EMPTY;
        while let Some(d) = seq.next_element::<u64>()? {
            shape = shape.push(d);
        }
        Ok(shape)
    }
}

/// `data_offsets`: exactly two non-negative integers.
struct OffsetsSeed<'s> {
    diagnosis: &'s mut Diagnosis,
    tensor: Option<TensorName>,
}

impl<'de> DeserializeSeed<'de> for OffsetsSeed<'_> {
    type Value = [u64; 2];
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> core::result::Result<[u64; 2], D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OffsetsSeed<'_> {
    type Value = [u64; 2];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("two data offsets")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> core::result::Result<[u64; 2], A::Error> {
        let mut offsets = [0; 2];
        let mut n = 0;
        while let Some(x) = seq.next_element::<u64>()? {
            if let Some(slot) = offsets.get_mut(n) {
                *slot = x;
            }
            n += 1;
        }
        if n != 2 {
            return Err(self.diagnosis.fail(
                self.tensor,
                FormatProblem::Schema {
                    reason: "data_offsets must be two integers [begin, end]",
                },
            ));
        }
        Ok(offsets)
    }
}
