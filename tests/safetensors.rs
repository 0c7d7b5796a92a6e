//! Safetensors export and import: round trips, the exact size constant, weights read in
//! place, every malformed case with its own error, and random mutations that never
//! panic and never change the model.
#![cfg(all(feature = "attention", feature = "safetensors", feature = "word2vec"))]
mod common;
use common::{AlignedBytes, Rng};
use edgegrad::attention::{AttentionCache, AttentionLm, AttentionWeights, Decoder, Sampling};
use edgegrad::params::{Params, TensorName};
use edgegrad::safetensors::{Aligned, MAX_HEADER_LEN};
use edgegrad::word2vec::Word2Vec;
use edgegrad::{Error, FormatProblem, Shape};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

const V: usize = 11;
const T: usize = 9;
const D: usize = 12;
const DK: usize = 5;
type Lm = AttentionLm<V, T, D, DK>;
type Weights<'a> = AttentionWeights<'a, V, T, D, DK>;

fn model(seed: u64) -> Box<Lm> {
    let mut m = Box::new(Lm::ZERO);
    m.init(&mut Pcg32::seed_from_u64(seed));
    let mut rng = Rng::new(seed);
    for b in m.b_out.as_mut_slice() {
        *b = rng.uniform(-1.0, 1.0);
    }
    m
}

fn exported(m: &Lm) -> Vec<u8> {
    let mut buf = vec![0_u8; Lm::SAFETENSORS_BYTES];
    assert_eq!(m.to_safetensors(&mut buf).unwrap(), Lm::SAFETENSORS_BYTES);
    buf
}

/// The header of a file as text, and its data section.
fn split(file: &[u8]) -> (String, &[u8]) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    (
        String::from_utf8(file[8..8 + n].to_vec()).unwrap(),
        &file[8 + n..],
    )
}

/// A file from a header text and data bytes.
fn assemble(header: &str, data: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(data);
    f
}

/// One tensor entry of a hand-written header.
struct Entry<'a> {
    name: &'a str,
    dtype: &'a str,
    shape: Vec<usize>,
    offsets: (u64, u64),
}

/// The entries `to_safetensors` writes for `Lm`, to be altered case by case.
fn entries() -> Vec<Entry<'static>> {
    let shapes: [Vec<usize>; 8] = [
        vec![V, D],
        vec![T, D],
        vec![D, DK],
        vec![D, DK],
        vec![D, DK],
        vec![DK, D],
        vec![D, V],
        vec![V],
    ];
    let mut at = 0;
    Lm::TENSOR_NAMES
        .iter()
        .zip(shapes)
        .map(|(&name, shape)| {
            let bytes = 4 * shape.iter().product::<usize>() as u64;
            at += bytes;
            Entry {
                name,
                dtype: "F32",
                shape,
                offsets: (at - bytes, at),
            }
        })
        .collect()
}

fn header_of(entries: &[Entry]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|e| {
            let dims: Vec<String> = e.shape.iter().map(usize::to_string).collect();
            format!(
                r#""{}":{{"dtype":"{}","shape":[{}],"data_offsets":[{},{}]}}"#,
                e.name,
                e.dtype,
                dims.join(","),
                e.offsets.0,
                e.offsets.1
            )
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Loads `file` into a copy of `m` and checks it fails with `expected`, leaving the copy
/// unchanged; the in-place reader gives the same error. Returns the message.
fn refused(file: &[u8], expected: Error) -> String {
    let mut target = model(99);
    let before = model(99);
    let err = target.load_safetensors(file).unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(*target, *before, "model changed by a refused file");
    let copy = AlignedBytes::new(file);
    let bytes = copy.bytes();
    assert_eq!(Weights::from_safetensors(bytes).unwrap_err(), expected);
    err.to_string()
}

fn st(tensor: Option<&'static str>, problem: FormatProblem) -> Error {
    Error::Safetensors {
        tensor: tensor.map(name),
        problem,
    }
}

/// The model's tensor of that name, as errors give it.
fn name(n: &str) -> TensorName {
    TensorName::find(<Lm as Params>::LAYOUT, n).expect("a tensor of the model")
}

#[test]
fn round_trip_gives_identical_parameters_and_logits() {
    let m = model(1);
    let file = exported(&m);
    let mut back = Box::new(Lm::ZERO);
    back.load_safetensors(&file).unwrap();
    assert_eq!(*back, *m);
    for (a, b) in back.tensors().iter().zip(m.tensors()) {
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    let tokens = [3_u16, 1, 4, 1, 5, 9, 2, 6, 5];
    let (mut c1, mut c2) = (
        Box::new(AttentionCache::ZERO),
        Box::new(AttentionCache::ZERO),
    );
    let l1 = m.forward(&tokens, &mut c1).unwrap();
    let l2 = back.forward(&tokens, &mut c2).unwrap();
    assert_eq!(l1.to_bits(), l2.to_bits());
    for i in 0..tokens.len() {
        assert_eq!(c1.logits(i), c2.logits(i));
    }
    // Export of the re-imported model is byte-identical.
    assert_eq!(exported(&back), file);
}

#[test]
fn weights_in_place_give_the_same_results() {
    let m = model(2);
    let mut file = Box::new(Aligned([0_u8; Lm::SAFETENSORS_BYTES]));
    m.to_safetensors(&mut file.0).unwrap();
    let w = Weights::from_safetensors(&file.0).unwrap();
    assert_eq!(w, m.weights());
    // The tensors point into the file, not into a copy.
    let range = file.0.as_ptr_range();
    assert!(range.contains(&(w.w_out.as_ptr() as *const u8)));
    let tokens = [2_u16, 7, 1, 8, 2, 8];
    let (mut c1, mut c2) = (
        Box::new(AttentionCache::ZERO),
        Box::new(AttentionCache::ZERO),
    );
    assert_eq!(
        w.forward(&tokens, &mut c1).unwrap(),
        m.forward(&tokens, &mut c2).unwrap()
    );
    // Generation with a KV cache from the file = from the model.
    let (mut d1, mut d2) = (Box::new(Decoder::ZERO), Box::new(Decoder::ZERO));
    let (mut o1, mut o2) = ([0_u16; 6], [0_u16; 6]);
    let s = Sampling::TopK {
        k: 3,
        temperature: 0.7,
    };
    d1.generate(w, &tokens[..3], &mut o1, s, &mut Pcg32::seed_from_u64(4))
        .unwrap();
    d2.generate(
        m.weights(),
        &tokens[..3],
        &mut o2,
        s,
        &mut Pcg32::seed_from_u64(4),
    )
    .unwrap();
    assert_eq!(o1, o2);
    // Exporting from the view writes the same file.
    let mut again = vec![0_u8; Lm::SAFETENSORS_BYTES];
    w.to_safetensors(&mut again).unwrap();
    assert_eq!(again, file.0);
}

#[test]
fn misaligned_file_loads_by_copy_but_not_in_place() {
    let m = model(3);
    let file = exported(&m);
    let copy = AlignedBytes::new(&[&[0_u8][..], &file].concat());
    let shifted = &copy.bytes()[1..];
    let mut back = Box::new(Lm::ZERO);
    back.load_safetensors(shifted).unwrap();
    assert_eq!(*back, *m);
    let err = Weights::from_safetensors(shifted).unwrap_err();
    assert_eq!(
        err,
        st(Some("tok_emb"), FormatProblem::Misaligned { offset: 1 })
    );
    assert!(err.to_string().contains("include_safetensors!"), "{err}");
}

#[test]
fn size_constant_is_exact_and_header_is_padded() {
    fn check<const V: usize, const T: usize, const D: usize, const DK: usize>() {
        let m = Box::new(AttentionLm::<V, T, D, DK>::ZERO);
        let mut buf = vec![0xAA_u8; AttentionLm::<V, T, D, DK>::SAFETENSORS_BYTES + 3];
        let n = m.to_safetensors(&mut buf).unwrap();
        assert_eq!(n, AttentionLm::<V, T, D, DK>::SAFETENSORS_BYTES);
        assert!(buf[n..].iter().all(|&b| b == 0xAA), "wrote past the end");
        let (header, data) = split(&buf[..n]);
        assert_eq!((8 + header.len()) % 64, 0);
        assert_eq!(data.len(), AttentionLm::<V, T, D, DK>::BYTES);
        assert_eq!(header.trim_end(), header.trim_end_matches(' '));
        assert!(header.len() - header.trim_end().len() < 64);
        let err = m.to_safetensors(&mut buf[..n - 1]).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidLength {
                what: "safetensors output buffer",
                found: n - 1,
                min: n,
                max: usize::MAX
            }
        );
    }
    check::<1, 1, 1, 1>();
    check::<10, 9, 8, 7>();
    check::<11, 9, 12, 5>();
    check::<100, 64, 10, 1>();
    check::<1000, 128, 64, 32>();
    check::<70000, 3, 2, 1>();
}

#[test]
fn header_names_the_model_and_its_sizes() {
    let (header, _) = split(&exported(&model(4)));
    assert!(header.starts_with(
        r#"{"__metadata__":{"model":"edgegrad.attention_lm","vocab":"11","context":"9","d_model":"12","d_head":"5"},"tok_emb":{"dtype":"F32","shape":[11,12],"data_offsets":[0,528]},"#
    ), "{header}");
    assert!(header.contains(r#""b_out":{"dtype":"F32","shape":[11],"data_offsets":[2448,2492]}}"#));
}

#[test]
fn any_tensor_order_and_foreign_metadata_load() {
    let m = model(5);
    let file = exported(&m);
    let (_, data) = split(&file);
    // Store the tensors in reverse order, as another writer might.
    let mut es = entries();
    let mut reordered = Vec::new();
    let mut at = 0;
    for e in es.iter_mut().rev() {
        let (b, en) = e.offsets;
        reordered.extend_from_slice(&data[b as usize..en as usize]);
        e.offsets = (at, at + (en - b));
        at += en - b;
    }
    let header = header_of(&es).replacen(
        '{',
        r#"{"__metadata__":{"format":"pt","note":"a \"quoted\" string"},"#,
        1,
    );
    let padded = format!("{header}{}", " ".repeat(5));
    let mut back = Box::new(Lm::ZERO);
    back.load_safetensors(&assemble(&padded, &reordered))
        .unwrap();
    assert_eq!(*back, *m);
}

#[test]
fn escaped_names_and_null_metadata_load() {
    let m = model(13);
    let file = exported(&m);
    let (header, data) = split(&file);
    let escaped = header
        .replacen("\"tok_emb\"", r#""tok\u005femb""#, 1)
        .replacen("\"F32\"", r#""\u0046\u0033\u0032""#, 1)
        .replacen("\"shape\"", r#""sha\u0070e""#, 1);
    let mut back = Box::new(Lm::ZERO);
    back.load_safetensors(&assemble(&escaped, data)).unwrap();
    assert_eq!(*back, *m);
    let start = header.find(r#""__metadata__":{"#).unwrap();
    let end = header[start..].find('}').unwrap() + start + 1;
    let null_meta = format!(
        "{}\"__metadata__\":null{}",
        &header[..start],
        &header[end..]
    );
    let mut back = Box::new(Lm::ZERO);
    back.load_safetensors(&assemble(&null_meta, data)).unwrap();
    assert_eq!(*back, *m);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn error_stays_small() {
    // Every kernel returns `Result<_, Error>`: the safetensors detail must not make it
    // larger than the other variants already did (56 bytes on 64-bit targets; 40 on
    // 32-bit ones, where its `u64` offsets align it to 8).
    assert!(
        std::mem::size_of::<Error>() <= 56,
        "Error is {} bytes",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn truncated_files_are_refused() {
    let m = model(6);
    let file = exported(&m);
    let (header, _) = split(&file);
    for len in [0, 1, 7] {
        refused(&file[..len], st(None, FormatProblem::TooShort { len }));
    }
    // Cut inside the header: the length field points past the end.
    let msg = refused(
        &file[..100],
        st(
            None,
            FormatProblem::HeaderPastEnd {
                header_len: header.len() as u64,
                file_len: 100,
            },
        ),
    );
    assert!(msg.contains("past the end"), "{msg}");
    // Cut inside the data: the last tensor runs out.
    let cut = file.len() - 3;
    let msg = refused(
        &file[..cut],
        st(
            Some("b_out"),
            FormatProblem::OffsetsOutOfRange {
                begin: 2448,
                end: 2492,
            },
        ),
    );
    assert_eq!(
        msg,
        "safetensors tensor `b_out`: data offsets [2448, 2492] outside the data section"
    );
}

#[test]
fn header_length_field_is_checked() {
    let m = model(7);
    let mut file = exported(&m);
    let real = file.len();
    let past = (real as u64) - 8 + 1;
    file[..8].copy_from_slice(&past.to_le_bytes());
    refused(
        &file,
        st(
            None,
            FormatProblem::HeaderPastEnd {
                header_len: past,
                file_len: real,
            },
        ),
    );
    for huge in [MAX_HEADER_LEN + 1, u64::MAX] {
        file[..8].copy_from_slice(&huge.to_le_bytes());
        refused(
            &file,
            st(
                None,
                FormatProblem::HeaderTooLong {
                    header_len: huge,
                    max: MAX_HEADER_LEN,
                },
            ),
        );
    }
}

#[test]
fn invalid_json_is_refused() {
    let m = model(8);
    let (header, data) = {
        let f = exported(&m);
        let (h, d) = split(&f);
        (h, d.to_vec())
    };
    let json = |reason| st(None, FormatProblem::Json { reason });
    let cases: Vec<(String, Error)> = vec![
        (
            header.trim_end().strip_suffix('}').unwrap().to_owned(),
            json("unexpected end of the header"),
        ),
        (header.replacen(':', " ", 1), json("expected ':'")),
        (header.replacen("],", "] ", 1), json("expected ',' or '}'")),
        (
            header.replacen("11,12", "11 12", 1),
            json("expected ',' or ']'"),
        ),
        (
            header.replacen(",", ",,", 1),
            json("object key is not a string"),
        ),
        (
            header.trim_end().trim_end_matches('}').to_owned() + ",}}",
            json("trailing comma"),
        ),
        (
            header.trim_end().to_owned() + "x",
            json("characters after the JSON value"),
        ),
        (
            header.trim_end().to_owned() + "{}",
            json("characters after the JSON value"),
        ),
        (
            header.replacen("[0,528]", "[-1,528]", 1),
            json("invalid number (offsets and sizes are integers ≥ 0)"),
        ),
        (
            header.replacen("[0,528]", "[0.5,528]", 1),
            json("expected ',' or ']'"),
        ),
        (String::new(), json("the header must begin with '{'")),
        (format!(" {header}"), json("the header must begin with '{'")),
        ("[1, 2]".into(), json("the header must begin with '{'")),
        (
            header.replacen("[11,12]", "[,11 12]", 1),
            json("comma before a list's first element"),
        ),
        (
            header.replacen("[0,528]", "[ ,0 528]", 1),
            json("comma before a list's first element"),
        ),
        (
            header.replacen("edgegrad", r"edge\qgrad", 1),
            json("invalid string escape"),
        ),
        (
            header.replacen("edgegrad", r"edge\u12grad", 1),
            json("invalid string escape"),
        ),
        (
            header.replacen("edgegrad", "edge\tgrad", 1),
            json("control character in a string"),
        ),
    ];
    for (h, err) in cases {
        let msg = refused(&assemble(&h, &data), err);
        assert!(
            msg.starts_with("safetensors file: header is not valid JSON"),
            "{msg}"
        );
    }
    // Bytes that are not UTF-8 inside a string.
    let mut bad = assemble(&header, &data);
    let at = 8 + header.find("edgegrad").unwrap();
    bad[at] = 0xFF;
    refused(&bad, json("the header is not UTF-8"));
}

#[test]
fn json_that_is_not_a_safetensors_header_is_refused() {
    let m = model(9);
    let f = exported(&m);
    let (header, data) = split(&f);
    let schema = |tensor, reason| st(tensor, FormatProblem::Schema { reason });
    let entry = "a tensor entry must be {\"dtype\": string, \"shape\": [integers], \"data_offsets\": [begin, end]}";
    let cases: Vec<(String, Error)> = vec![
        (
            header.replacen(r#""model":"edgegrad.attention_lm""#, r#""model":1"#, 1),
            schema(None, "__metadata__ must map strings to strings"),
        ),
        (
            header.replacen(r#"{"model""#, r#"["model""#, 1),
            schema(None, "__metadata__ must map strings to strings"),
        ),
        (
            header.replacen(r#""dtype":"F32""#, r#""dtype":32"#, 1),
            schema(Some("tok_emb"), entry),
        ),
        (
            header.replacen(
                r#""tok_emb":{"dtype""#,
                r#""tok_emb":{"kind":"x","dtype""#,
                1,
            ),
            schema(Some("tok_emb"), "unknown field in a tensor entry"),
        ),
        (
            header.replacen(r#""dtype":"F32","#, r#""dtype":"F32","dtype":"F32","#, 1),
            schema(Some("tok_emb"), "repeated field in a tensor entry"),
        ),
        (
            header.replacen(r#""dtype":"F32","#, "", 1),
            schema(
                Some("tok_emb"),
                "a tensor entry lacks dtype, shape or data_offsets",
            ),
        ),
        (
            header.replacen("[0,528]", "[0,528,4]", 1),
            schema(
                Some("tok_emb"),
                "data_offsets must be two integers [begin, end]",
            ),
        ),
        (
            header.replacen("[0,528]", "[528]", 1),
            schema(
                Some("tok_emb"),
                "data_offsets must be two integers [begin, end]",
            ),
        ),
        (
            header.replacen(r#""tok_emb":{"#, r#""__metadata__":{},"tok_emb":{"#, 1),
            schema(None, "__metadata__ appears twice"),
        ),
    ];
    for (h, err) in cases {
        refused(&assemble(&h, data), err);
    }
}

#[test]
fn wrong_dtype_shape_and_names_are_refused() {
    let m = model(10);
    let f = exported(&m);
    let (_, data) = split(&f);
    let case = |edit: &dyn Fn(&mut Vec<Entry>), err: Error| {
        let mut es = entries();
        edit(&mut es);
        refused(&assemble(&header_of(&es), data), err)
    };
    let msg = case(
        &|es| es[2].dtype = "F16",
        st(Some("w_q"), FormatProblem::WrongDtype { found: "F16" }),
    );
    assert_eq!(msg, "safetensors tensor `w_q`: dtype F16, expected F32");
    case(
        &|es| es[3].dtype = "float32",
        st(Some("w_k"), FormatProblem::WrongDtype { found: "unknown" }),
    );
    let msg = case(
        &|es| es[5].shape = vec![D, DK],
        st(
            Some("w_o"),
            FormatProblem::WrongShape {
                expected: Shape::new(&[DK as u64, D as u64]),
                found: Shape::new(&[D as u64, DK as u64]),
            },
        ),
    );
    assert_eq!(
        msg,
        "safetensors tensor `w_o`: shape [12, 5], expected [5, 12]"
    );
    case(
        &|es| es[7].shape = vec![1, V],
        st(
            Some("b_out"),
            FormatProblem::WrongShape {
                expected: Shape::new(&[V as u64]),
                found: Shape::new(&[1, V as u64]),
            },
        ),
    );
    let msg = case(
        &|es| es[0].shape = vec![1, 1, 1, 1, V, D],
        st(
            Some("tok_emb"),
            FormatProblem::WrongShape {
                expected: Shape::new(&[V as u64, D as u64]),
                found: Shape::new(&[1, 1, 1, 1, V as u64, D as u64]),
            },
        ),
    );
    // Shapes keep up to four dimensions (ranks up to 4 are read), then the rank.
    assert!(msg.contains("[1, 1, 1, 1, … (6 dimensions)]"), "{msg}");
    case(
        &|es| {
            es.remove(4);
        },
        st(Some("w_v"), FormatProblem::MissingTensor),
    );
    let msg = case(
        &|es| es[6].name = "lm_head",
        st(None, FormatProblem::UnknownTensor { index: 6 }),
    );
    assert_eq!(
        msg,
        "safetensors file: header entry 6 is not a tensor of this model"
    );
    case(
        &|es| {
            let dup = Entry {
                name: "w_q",
                dtype: "F32",
                shape: vec![D, DK],
                offsets: es[2].offsets,
            };
            es.push(dup);
        },
        st(Some("w_q"), FormatProblem::DuplicateTensor),
    );
}

#[test]
fn bad_offsets_are_refused() {
    let m = model(11);
    let f = exported(&m);
    let (_, data) = split(&f);
    let n = data.len() as u64;
    let case = |edit: &dyn Fn(&mut Vec<Entry>), data: &[u8], err: Error| {
        let mut es = entries();
        edit(&mut es);
        refused(&assemble(&header_of(&es), data), err)
    };
    // Past the end, and ending before the start.
    case(
        &|es| es[1].offsets.1 = n + 4,
        data,
        st(
            Some("pos_emb"),
            FormatProblem::OffsetsOutOfRange {
                begin: 528,
                end: n + 4,
            },
        ),
    );
    case(
        &|es| es[1].offsets = (960, 528),
        data,
        st(
            Some("pos_emb"),
            FormatProblem::OffsetsOutOfRange {
                begin: 960,
                end: 528,
            },
        ),
    );
    case(
        &|es| es[0].offsets = (u64::MAX - 3, u64::MAX),
        data,
        st(
            Some("tok_emb"),
            FormatProblem::OffsetsOutOfRange {
                begin: u64::MAX - 3,
                end: u64::MAX,
            },
        ),
    );
    // A range of the wrong length for the shape.
    case(
        &|es| es[2].offsets.1 -= 4,
        data,
        st(
            Some("w_q"),
            FormatProblem::WrongByteLength {
                expected: 240,
                found: 236,
            },
        ),
    );
    // Two tensors sharing bytes.
    let msg = case(
        &|es| es[3].offsets = es[2].offsets,
        data,
        st(Some("w_k"), FormatProblem::Overlap { with: name("w_q") }),
    );
    assert_eq!(msg, "safetensors tensor `w_k`: data overlaps tensor `w_q`");
    case(
        &|es| {
            es[3].offsets.0 -= 4;
            es[3].offsets.1 -= 4;
        },
        data,
        st(Some("w_k"), FormatProblem::Overlap { with: name("w_q") }),
    );
    // A hole between tensors, and bytes after the last one.
    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0; 4]);
    case(
        &|es| {
            for e in &mut es[3..] {
                e.offsets.0 += 4;
                e.offsets.1 += 4;
            }
        },
        &longer,
        st(
            None,
            FormatProblem::UnusedData {
                begin: 1200,
                end: 1204,
            },
        ),
    );
    let msg = case(
        &|_| {},
        &longer,
        st(
            None,
            FormatProblem::UnusedData {
                begin: data.len(),
                end: data.len() + 4,
            },
        ),
    );
    assert_eq!(
        msg,
        "safetensors file: data bytes 2492..2496 belong to no tensor"
    );
    // Not starting at 0.
    case(
        &|es| {
            for e in es.iter_mut() {
                e.offsets.0 += 4;
                e.offsets.1 += 4;
            }
        },
        &longer,
        st(None, FormatProblem::UnusedData { begin: 0, end: 4 }),
    );
}

#[test]
fn random_mutations_never_panic_or_change_the_model() {
    let m = model(12);
    let file = exported(&m);
    let (header, _) = split(&file);
    let header_end = 8 + header.len();
    let mut rng = Rng::new(2026);
    let mut target = model(100);
    let reference = model(100);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let mut f = file.clone();
        for _ in 0..1 + rng.below(3) {
            // Most mutations hit the 8-byte length and the header, where the parsing is.
            let at = if rng.below(10) < 8 {
                rng.below(header_end)
            } else {
                rng.below(f.len())
            };
            let at = at.min(f.len().saturating_sub(1));
            match rng.below(6) {
                0 => f[at] ^= 1 << rng.below(8),
                1 => f[at] = rng.below(256) as u8,
                2 => f[at] = b"{}[]\",:0123456789-eE. \\"[rng.below(23)],
                3 => f.truncate(at),
                4 => {
                    f.insert(at, b" ,0\"}"[rng.below(5)]);
                }
                _ => {
                    f.remove(at);
                }
            }
            if f.is_empty() {
                break;
            }
        }
        match target.load_safetensors(&f) {
            Ok(()) => {
                ok += 1;
                target.copy_from(&reference);
            }
            Err(e) => {
                refused += 1;
                assert!(matches!(e, Error::Safetensors { .. }), "{e:?}");
                assert_eq!(*target, *reference, "refused file changed the model: {e}");
                let _ = e.to_string();
            }
        }
        let copy = AlignedBytes::new(&f);
        let bytes = copy.bytes();
        let _ = Weights::from_safetensors(bytes);
    }
    // Mutations of the data (and of insignificant spaces) still load.
    assert!(ok > 100 && refused > 10_000, "ok {ok}, refused {refused}");
}

#[test]
fn word2vec_round_trip_and_errors() {
    let mut w = Box::new(Word2Vec::<50, 8>::ZERO);
    w.init(&mut Pcg32::seed_from_u64(3));
    let mut rng = Rng::new(3);
    for x in w.output.as_mut_slice() {
        *x = rng.uniform(-1.0, 1.0);
    }
    let mut buf = vec![0_u8; Word2Vec::<50, 8>::SAFETENSORS_BYTES];
    assert_eq!(w.to_safetensors(&mut buf).unwrap(), buf.len());
    let (header, _) = split(&buf);
    assert!(header.starts_with(
        r#"{"__metadata__":{"model":"edgegrad.word2vec","vocab":"50","dim":"8"},"input":{"dtype":"F32","shape":[50,8],"data_offsets":[0,1600]},"output""#
    ), "{header}");
    let mut back = Box::new(Word2Vec::<50, 8>::ZERO);
    back.load_safetensors(&buf).unwrap();
    assert_eq!(*back, *w);
    // Another model's file, and another size.
    let err = back.load_safetensors(&exported(&model(1))).unwrap_err();
    assert_eq!(err, st(None, FormatProblem::UnknownTensor { index: 1 }));
    let mut other = Box::new(Word2Vec::<50, 9>::ZERO);
    let err = other.load_safetensors(&buf).unwrap_err();
    assert!(matches!(
        err,
        Error::Safetensors {
            tensor: Some(t),
            problem: FormatProblem::WrongShape { .. }
        } if t == "input"
    ));
    assert_eq!(*back, *w);
}
