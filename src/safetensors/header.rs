//! Reading a safetensors header: the JSON parsed by `serde-json-core` into the model's
//! tensor slots, then every check of the file against the model's layout.

use core::fmt;
use core::ops::Range;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json_core::de::{Deserializer, Error as JsonError};
use serde_json_core::str::{EscapedStr, EscapedStringFragment};

use super::{Layout, MAX_TENSORS};
use crate::error::{Error, FormatProblem, Result, Shape};

/// Largest header accepted, in bytes (1 MiB). The models' own headers take well under
/// 1 KiB; the limit leaves room for the metadata other tools write while refusing a
/// corrupted length field before anything is parsed.
pub const MAX_HEADER_LEN: u64 = 1 << 20;

/// The dtypes safetensors defines, so that a wrong one can be named in the error.
const DTYPES: [&str; 20] = [
    "BOOL", "U8", "I8", "F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16",
    "F16", "BF16", "I32", "U32", "F32", "F64", "C64", "I64", "U64",
];

/// What a tensor entry must look like.
const ENTRY_SCHEMA: &str = r#"a tensor entry must be {"dtype": string, "shape": [integers], "data_offsets": [begin, end]}"#;

/// What the header says of one of the model's tensors.
#[derive(Clone, Copy)]
struct Entry {
    begin: u64,
    end: u64,
}

/// Where parsing stands, for an error that says more than the JSON parser can: the first
/// problem found by the visitors (they stop the parse at once), and what the value being
/// parsed should look like (for type errors).
struct Diagnosis {
    problem: Option<Error>,
    context: &'static str,
    tensor: Option<&'static str>,
}

impl Diagnosis {
    /// Records `problem` and stops the parse.
    fn fail<E: de::Error>(&mut self, tensor: Option<&'static str>, problem: FormatProblem) -> E {
        self.problem = Some(Error::Safetensors { tensor, problem });
        E::custom("")
    }
}

/// Checks `bytes` as a safetensors file of `layout` and returns each tensor's byte
/// range within `bytes` (layout order; unused slots empty).
pub(super) fn locate(layout: &Layout, bytes: &[u8]) -> Result<[Range<usize>; MAX_TENSORS]> {
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

    let mut entries: [Option<Entry>; MAX_TENSORS] = [None; MAX_TENSORS];
    let mut diagnosis = Diagnosis {
        problem: None,
        context: "the header must be a JSON object",
        tensor: None,
    };
    let mut de = Deserializer::new(header, None);
    let parsed = HeaderSeed {
        layout,
        entries: &mut entries,
        diagnosis: &mut diagnosis,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Err(e) = parsed {
        return Err(diagnosis.problem.unwrap_or(match e {
            JsonError::InvalidType => Error::Safetensors {
                tensor: diagnosis.tensor,
                problem: FormatProblem::Schema {
                    reason: diagnosis.context,
                },
            },
            e => file(FormatProblem::Json {
                reason: json_reason(e),
            }),
        }));
    }

    // Every tensor present, its bytes inside the data section and of the right length.
    let mut ranges: [Range<usize>; MAX_TENSORS] = Default::default();
    for ((spec, entry), range) in layout.tensors.iter().zip(entries).zip(&mut ranges) {
        let tensor = Some(spec.name);
        let Some(Entry { begin, end }) = entry else {
            return Err(Error::Safetensors {
                tensor,
                problem: FormatProblem::MissingTensor,
            });
        };
        if begin > end || end > data.len() as u64 {
            return Err(Error::Safetensors {
                tensor,
                problem: FormatProblem::OffsetsOutOfRange { begin, end },
            });
        }
        let expected = 4 * spec.len() as u64;
        if end - begin != expected {
            return Err(Error::Safetensors {
                tensor,
                problem: FormatProblem::WrongByteLength {
                    expected,
                    found: end - begin,
                },
            });
        }
        *range = begin as usize..end as usize;
    }

    // The tensors tile the data section: sorted by start, each begins where the last
    // ended, from 0 to the end.
    let n = layout.tensors.len();
    let mut order = [0_usize; MAX_TENSORS];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    let order = &mut order[..n];
    // Insertion sort: at most eight entries, and far less code in flash than the
    // standard library's sort.
    let key = |i: usize| (ranges[i].start, ranges[i].end);
    for i in 1..n {
        let mut j = i;
        while j > 0 && key(order[j - 1]) > key(order[j]) {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut covered = 0;
    let mut last: Option<usize> = None;
    for &i in order.iter() {
        let r = &ranges[i];
        if r.start < covered {
            return Err(Error::Safetensors {
                tensor: Some(layout.tensors[i].name),
                problem: FormatProblem::Overlap {
                    with: last.map_or("", |j| layout.tensors[j].name),
                },
            });
        }
        if r.start > covered {
            return Err(file(FormatProblem::UnusedData {
                begin: covered,
                end: r.start,
            }));
        }
        covered = r.end;
        last = Some(i);
    }
    if covered != data.len() {
        return Err(file(FormatProblem::UnusedData {
            begin: covered,
            end: data.len(),
        }));
    }

    let data_start = 8 + header.len();
    for r in &mut ranges[..n] {
        *r = r.start + data_start..r.end + data_start;
    }
    Ok(ranges)
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
struct HeaderSeed<'s, 'l> {
    layout: &'s Layout<'l>,
    entries: &'s mut [Option<Entry>; MAX_TENSORS],
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
                let Some(i) = self
                    .layout
                    .tensors
                    .iter()
                    .position(|s| json_str_eq(key, s.name))
                else {
                    return Err(self
                        .diagnosis
                        .fail(None, FormatProblem::UnknownTensor { index }));
                };
                let spec = &self.layout.tensors[i];
                let tensor = Some(spec.name);
                if self.entries[i].is_some() {
                    return Err(self.diagnosis.fail(tensor, FormatProblem::DuplicateTensor));
                }
                self.diagnosis.tensor = tensor;
                self.diagnosis.context = ENTRY_SCHEMA;
                let raw = map.next_value_seed(EntrySeed {
                    diagnosis: self.diagnosis,
                    tensor,
                })?;
                if !json_str_eq(raw.dtype, "F32") {
                    let found = DTYPES
                        .iter()
                        .find(|&&d| json_str_eq(raw.dtype, d))
                        .copied()
                        .unwrap_or("unknown");
                    return Err(self
                        .diagnosis
                        .fail(tensor, FormatProblem::WrongDtype { found }));
                }
                if raw.shape != spec.shape {
                    return Err(self.diagnosis.fail(
                        tensor,
                        FormatProblem::WrongShape {
                            expected: spec.shape,
                            found: raw.shape,
                        },
                    ));
                }
                self.entries[i] = Some(Entry {
                    begin: raw.offsets[0],
                    end: raw.offsets[1],
                });
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

/// A tensor entry as written, before it is checked against the model.
struct RawEntry<'de> {
    dtype: &'de str,
    shape: Shape,
    offsets: [u64; 2],
}

struct EntrySeed<'s> {
    diagnosis: &'s mut Diagnosis,
    tensor: Option<&'static str>,
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
    tensor: Option<&'static str>,
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
