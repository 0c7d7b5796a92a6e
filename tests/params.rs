//! Parameters declared once: a nested declaration (modules, repeated modules, tensors of
//! rank 1 to 4) gives names, counts, initialisation, views, and safetensors files of
//! any number of tensors — read with the same checks and errors as the models' own,
//! beyond the reader's windows of 32 tensors and 512 duplicate checks too.
#![cfg(feature = "safetensors")]
mod common;
use common::{AlignedBytes, Rng};
use edgegrad::params::{self, FromTensors, Init, Params, ParamsMut, Ref, Storage, TensorName};
use edgegrad::safetensors::{self, Model};
use edgegrad::tensor::Matrix;
use edgegrad::{Error, FormatProblem, Shape};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

edgegrad::params! {
    /// A gain and a shift.
    pub struct Norm<const D: usize> {
        /// Gain.
        weight: [f32; D] = "weight", Init::Ones;
        /// Shift.
        bias: [f32; D] = "bias", Init::Zeros;
    }
}

edgegrad::params! {
    /// One block: tensors of every rank and a nested module.
    pub struct Block<const D: usize> {
        /// Rank 1 inside a module.
        module ln: Norm<D, S> = "ln_1";
        /// Rank 2.
        tensor w: Matrix<D, D> = "attn.c_attn.weight", Init::UniformFanIn;
        /// Rank 3.
        tensor cube: [[[f32; 2]; 3]; D] = "cube", Init::Normal { sd: 0.5 };
        /// Rank 4.
        tensor four: [[[[f32; 2]; 2]; 1]; D] = "four", Init::Uniform { bound: 1.0 };
    }
}

edgegrad::params! {
    /// Embeddings, `L` blocks and a final norm: GPT-2's shape of names.
    pub struct Deep<const V: usize, const D: usize, const L: usize> {
        /// Token embeddings.
        tensor wte: Matrix<V, D> = "wte.weight", Init::Normal { sd: 0.02 };
        /// The blocks.
        module h: [Block<D, S>; L] = "h";
        /// The final norm.
        module ln_f: Norm<D, S> = "ln_f";
    }
}

impl<const V: usize, const D: usize, const L: usize, S: Storage> Model for Deep<V, D, L, S> {
    const KIND: &'static str = "test.deep";
    const SIZES: &'static [(&'static str, usize)] = &[("vocab", V), ("layers", L)];
}

/// 1 + 10·5 + 2 = 53 tensors: more than one window of the reader.
type Mid = Deep<7, 4, 10>;
/// 1 + 110·5 + 2 = 553 tensors: more than the reader's 512 duplicate checks per parse.
type Big = Deep<3, 2, 110>;

fn model<const V: usize, const D: usize, const L: usize>(seed: u64) -> Box<Deep<V, D, L>> {
    let mut m = Box::new(Deep::ZERO);
    m.init(&mut Pcg32::seed_from_u64(seed));
    // every tensor distinct, biases and gains included
    let mut rng = Rng::new(seed);
    for i in 0..Deep::<V, D, L>::TENSORS {
        for x in m.tensor_mut(i) {
            *x += rng.uniform(-0.1, 0.1);
        }
    }
    m
}

fn name_of<P: Params>(i: usize) -> String {
    params::name::<P>(i).unwrap().to_string()
}

#[test]
fn declarations_give_names_counts_and_shapes() {
    assert_eq!(Mid::TENSORS, 53);
    assert_eq!(Big::TENSORS, 553);
    let block = 2 * 4 + 16 + 4 * 6 + 4 * 4;
    assert_eq!(Mid::PARAMETERS, 7 * 4 + 10 * block + 8);
    assert_eq!(Mid::BYTES, 4 * Mid::PARAMETERS);
    assert_eq!(name_of::<Mid>(0), "wte.weight");
    assert_eq!(name_of::<Mid>(1), "h.0.ln_1.weight");
    assert_eq!(name_of::<Mid>(3), "h.0.attn.c_attn.weight");
    assert_eq!(name_of::<Mid>(50), "h.9.four");
    assert_eq!(name_of::<Mid>(52), "ln_f.bias");
    assert!(params::name::<Mid>(53).is_none());
    for i in 0..Big::TENSORS {
        let n = name_of::<Big>(i);
        assert_eq!(<Big as Params>::LAYOUT.find(&n), Some(i), "{n}");
    }
    let spec = |i| <Mid as Params>::LAYOUT.spec(i).unwrap();
    assert_eq!(spec(4).shape, Shape::new(&[4, 3, 2]));
    assert_eq!(spec(5).shape, Shape::new(&[4, 1, 2, 2]));
    assert_eq!(spec(5).init, Init::Uniform { bound: 1.0 });
    // Every tensor's slice has its declared length, owned and borrowed alike.
    let m = model::<7, 4, 10>(1);
    let v = m.view();
    for i in 0..Mid::TENSORS {
        assert_eq!(m.tensor(i).len(), spec(i).len(), "{}", name_of::<Mid>(i));
        assert_eq!(m.tensor(i).as_ptr(), v.tensor(i).as_ptr());
    }
    assert!(m.tensor(Mid::TENSORS).is_empty());
}

#[test]
fn init_follows_each_declaration() {
    let mut a = Box::new(Mid::ZERO);
    let mut b = Box::new(Mid::ZERO);
    a.init(&mut Pcg32::seed_from_u64(9));
    b.init(&mut Pcg32::seed_from_u64(9));
    assert_eq!(a, b, "same seed, same model");
    for blk in &a.h {
        assert_eq!(blk.ln.weight, [1.0; 4]);
        assert_eq!(blk.ln.bias, [0.0; 4]);
        let fan_in_bound = 3.0_f32.sqrt() / 2.0;
        assert!(blk.w.as_slice().iter().all(|x| x.abs() <= fan_in_bound));
        assert!(
            blk.four
                .as_flattened()
                .as_flattened()
                .as_flattened()
                .iter()
                .all(|x| x.abs() <= 1.0)
        );
    }
    // Normal(0, 0.5): the sample standard deviation of all the cubes.
    let cubes: Vec<f32> = (0..Mid::TENSORS)
        .filter(|&i| name_of::<Mid>(i).ends_with("cube"))
        .flat_map(|i| a.tensor(i).to_vec())
        .collect();
    let sd = (cubes.iter().map(|x| x * x).sum::<f32>() / cubes.len() as f32).sqrt();
    assert!((sd - 0.5).abs() < 0.08, "sd {sd} of {} draws", cubes.len());
    // zero, scale, copy, accumulate, global norm: over every tensor.
    let mut c = Box::new(Mid::ZERO);
    c.copy_from(&a);
    assert_eq!(c, a);
    params::accumulate(&mut *c, &a);
    c.scale(0.5);
    assert_eq!(c, a);
    let n64: f64 = (0..Mid::TENSORS)
        .flat_map(|i| a.tensor(i).to_vec())
        .map(|x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    assert!((params::global_norm(&*a) as f64 - n64).abs() < 1e-5 * n64);
    c.zero();
    assert_eq!(*c, Mid::ZERO);
}

fn exported<const V: usize, const D: usize, const L: usize>(m: &Deep<V, D, L>) -> AlignedBytes {
    let mut buf = vec![0_u8; safetensors::file_len::<Deep<V, D, L>>()];
    assert_eq!(safetensors::export(m, &mut buf).unwrap(), buf.len());
    AlignedBytes::new(&buf)
}

#[test]
fn nested_models_round_trip_by_copy_and_in_place() {
    fn check<const V: usize, const D: usize, const L: usize>() {
        let m = model::<V, D, L>(3);
        let file = exported(&*m);
        let bytes = file.bytes();
        let mut back = Box::new(Deep::<V, D, L>::ZERO);
        safetensors::import(&mut *back, bytes).unwrap();
        assert_eq!(back, m);
        let view: Deep<V, D, L, Ref<'_>> = safetensors::view(bytes).unwrap();
        assert_eq!(view, m.view());
        let range = bytes.as_ptr_range();
        for i in 0..Deep::<V, D, L>::TENSORS {
            assert!(range.contains(&(view.tensor(i).as_ptr() as *const u8)));
        }
        // The header names every tensor in GPT-2's dotted style.
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        assert!(header.contains(r#""h.0.attn.c_attn.weight":{"dtype":"F32","shape":["#));
        assert!(header.contains(r#""h.0.four":{"dtype":"F32","shape":[2,1,2,2]"#) || D != 2);
    }
    check::<7, 4, 10>();
    check::<3, 2, 110>();
}

/// One entry of a hand-built header.
#[derive(Clone)]
struct Ent {
    name: String,
    shape: Vec<u64>,
    offsets: (u64, u64),
}

/// The entries of `P`'s file in declaration order, tensors stored in `order`.
fn entries_in<P: Params>(order: &[usize]) -> Vec<Ent> {
    let mut ents: Vec<Ent> = (0..P::TENSORS)
        .map(|i| {
            let spec = P::LAYOUT.spec(i).unwrap();
            Ent {
                name: name_of::<P>(i),
                shape: spec.shape.dims().map(u64::from).collect(),
                offsets: (0, 0),
            }
        })
        .collect();
    let mut at = 0;
    for &i in order {
        let len = 4 * ents[i].shape.iter().product::<u64>();
        ents[i].offsets = (at, at + len);
        at += len;
    }
    ents
}

/// A file from entries (in the header in the order given) and a data section laid out
/// by their offsets from the model's tensors.
fn file_of<P: Params>(m: &P, ents: &[Ent], data_len: usize) -> AlignedBytes {
    let mut data = vec![0_u8; data_len];
    for e in ents {
        // (names escaped in JSON by the test are found by their text)
        if let Some(i) = P::LAYOUT.find(&e.name.replace("\\u002e", ".")) {
            let (b, end) = (e.offsets.0 as usize, e.offsets.1 as usize);
            if end <= data_len && b <= end {
                for (k, x) in m.tensor(i).iter().enumerate() {
                    if b + 4 * k + 4 <= end {
                        data[b + 4 * k..b + 4 * k + 4].copy_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
    }
    let body: Vec<String> = ents
        .iter()
        .map(|e| {
            let dims: Vec<String> = e.shape.iter().map(u64::to_string).collect();
            format!(
                r#""{}":{{"dtype":"F32","shape":[{}],"data_offsets":[{},{}]}}"#,
                e.name,
                dims.join(","),
                e.offsets.0,
                e.offsets.1
            )
        })
        .collect();
    let mut header = format!("{{{}}}", body.join(","));
    while (8 + header.len()) % 8 != 0 {
        header.push(' ');
    }
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(&data);
    AlignedBytes::new(&f)
}

/// Reading `file` fails with `expected`, by copy and in place, leaving the model as it
/// was.
fn refused<const V: usize, const D: usize, const L: usize>(file: &AlignedBytes, expected: Error) {
    let before = model::<V, D, L>(11);
    let mut target = model::<V, D, L>(11);
    assert_eq!(
        safetensors::import(&mut *target, file.bytes()),
        Err(expected)
    );
    assert_eq!(target, before, "model changed by a refused file");
    let in_place: Result<Deep<V, D, L, Ref<'_>>, Error> = safetensors::view(file.bytes());
    assert_eq!(in_place.unwrap_err(), expected);
}

fn named<P: Params>(n: &str) -> Option<TensorName> {
    TensorName::find(P::LAYOUT, n)
}

#[test]
fn any_order_of_entries_and_of_data_loads() {
    fn check<const V: usize, const D: usize, const L: usize>(seed: u64) {
        let m = model::<V, D, L>(seed);
        let n = Deep::<V, D, L>::TENSORS;
        let mut rng = Rng::new(seed);
        // data in a random order, entries in another
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut ents = entries_in::<Deep<V, D, L>>(&order);
        for i in (1..n).rev() {
            ents.swap(i, rng.below(i + 1));
        }
        let file = file_of(&*m, &ents, 4 * Deep::<V, D, L>::PARAMETERS);
        let mut back = Box::new(Deep::<V, D, L>::ZERO);
        safetensors::import(&mut *back, file.bytes()).unwrap();
        assert_eq!(back, m);
        let view: Deep<V, D, L, Ref<'_>> = safetensors::view(file.bytes()).unwrap();
        assert_eq!(view, m.view());
    }
    check::<7, 4, 10>(5);
    check::<3, 2, 110>(6);
}

#[test]
fn errors_beyond_the_readers_windows_are_the_same_errors() {
    type P = Big;
    let m = model::<3, 2, 110>(12);
    let n = P::TENSORS;
    let natural: Vec<usize> = (0..n).collect();
    let len = 4 * P::PARAMETERS;
    let st = |tensor: Option<TensorName>, problem| Error::Safetensors { tensor, problem };

    // A duplicate of a tensor past the first 512.
    let mut ents = entries_in::<P>(&natural);
    let dup = ents[540].clone();
    ents.push(dup);
    refused::<3, 2, 110>(
        &file_of(&*m, &ents, len),
        st(named::<P>(&ents[540].name), FormatProblem::DuplicateTensor),
    );
    // A missing tensor past the first window, and past the first 512.
    for i in [40, 530] {
        let mut ents = entries_in::<P>(&natural);
        let gone = ents.remove(i);
        refused::<3, 2, 110>(
            &file_of(&*m, &ents, len),
            st(named::<P>(&gone.name), FormatProblem::MissingTensor),
        );
    }
    // A rank-4 tensor of the wrong shape.
    let mut ents = entries_in::<P>(&natural);
    ents[300].shape = vec![2, 2, 1, 2];
    refused::<3, 2, 110>(
        &file_of(&*m, &ents, len),
        st(
            named::<P>(&ents[300].name),
            FormatProblem::WrongShape {
                expected: Shape::new(&[2, 1, 2, 2]),
                found: Shape::new(&[2, 2, 1, 2]),
            },
        ),
    );
    // Two tensors far into the file sharing bytes; the first range problem in the
    // model's order is reported, whatever the file's order.
    let mut ents = entries_in::<P>(&natural);
    assert_eq!(
        ents[401].shape, ents[402].shape,
        "h.80.ln_1: weight and bias"
    );
    ents[402].offsets = ents[401].offsets;
    refused::<3, 2, 110>(
        &file_of(&*m, &ents, len),
        st(
            named::<P>(&ents[402].name),
            FormatProblem::Overlap {
                with: named::<P>(&ents[401].name).unwrap(),
            },
        ),
    );
    let mut ents = entries_in::<P>(&natural);
    ents.swap(10, 500);
    ents[500].offsets.1 += 4;
    ents[10].offsets.1 += 4;
    let wrong = |e: &Ent| {
        st(
            named::<P>(&e.name),
            FormatProblem::WrongByteLength {
                expected: e.offsets.1 - e.offsets.0 - 4,
                found: e.offsets.1 - e.offsets.0,
            },
        )
    };
    let first_in_model_order = if P::LAYOUT.find(&ents[10].name) < P::LAYOUT.find(&ents[500].name) {
        &ents[10]
    } else {
        &ents[500]
    };
    refused::<3, 2, 110>(&file_of(&*m, &ents, len + 4), wrong(first_in_model_order));
    // A hole between two tensors past the first window, and trailing bytes.
    let mut ents = entries_in::<P>(&natural);
    for e in &mut ents[100..] {
        e.offsets.0 += 4;
        e.offsets.1 += 4;
    }
    let hole = ents[100].offsets.0 - 4;
    refused::<3, 2, 110>(
        &file_of(&*m, &ents, len + 4),
        st(
            None,
            FormatProblem::UnusedData {
                begin: hole as usize,
                end: hole as usize + 4,
            },
        ),
    );
    refused::<3, 2, 110>(
        &file_of(&*m, &entries_in::<P>(&natural), len + 8),
        st(
            None,
            FormatProblem::UnusedData {
                begin: len,
                end: len + 8,
            },
        ),
    );
    // An unknown name that is almost one: "h.110" is past the last block.
    let mut ents = entries_in::<P>(&natural);
    ents[5].name = "h.110.cube".into();
    refused::<3, 2, 110>(
        &file_of(&*m, &ents, len),
        st(None, FormatProblem::UnknownTensor { index: 5 }),
    );
}

#[test]
fn escaped_nested_names_and_misaligned_tensors() {
    let m = model::<7, 4, 10>(13);
    let natural: Vec<usize> = (0..Mid::TENSORS).collect();
    let mut ents = entries_in::<Mid>(&natural);
    ents[41].name = ents[41].name.replace('.', "\\u002e");
    let file = file_of(&*m, &ents, 4 * Mid::PARAMETERS);
    let mut back = Box::new(Mid::ZERO);
    safetensors::import(&mut *back, file.bytes()).unwrap();
    assert_eq!(back, m);
    // The same file shifted by one byte: fine to copy, not to read in place.
    let mut shifted = vec![0_u8; 1];
    shifted.extend_from_slice(file.bytes());
    let copy = AlignedBytes::new(&shifted);
    let bytes = &copy.bytes()[1..];
    safetensors::import(&mut *back, bytes).unwrap();
    let err = Deep::<7, 4, 10, Ref<'_>>::from_tensors_in(bytes).unwrap_err();
    assert!(matches!(
        err,
        Error::Safetensors {
            tensor: Some(t),
            problem: FormatProblem::Misaligned { offset: 1 }
        } if t == "wte.weight"
    ));
}

/// The in-place reader as a method, as models have it.
trait InPlace<'a>: Sized {
    fn from_tensors_in(bytes: &'a [u8]) -> Result<Self, Error>;
}

impl<'a, T: Model + FromTensors<'a>> InPlace<'a> for T {
    fn from_tensors_in(bytes: &'a [u8]) -> Result<Self, Error> {
        safetensors::view(bytes)
    }
}

#[test]
fn tensors_only_declarations_list_their_tensors() {
    let mut n = Norm::<3>::ZERO;
    n.init(&mut Pcg32::seed_from_u64(1));
    assert_eq!(Norm::<3>::TENSOR_NAMES, ["weight", "bias"]);
    assert_eq!(n.tensors(), [&[1.0; 3][..], &[0.0; 3][..]]);
    for t in n.tensors_mut() {
        t.fill(2.0);
    }
    assert_eq!(n.view().tensors(), [&[2.0; 3][..], &[2.0; 3][..]]);
    let v: Norm<3, Ref<'_>> = (&n).into();
    assert_eq!(v.weight, &[2.0; 3]);
}

edgegrad::params! {
    /// Names that JSON must escape, and a name longer than any buffer.
    pub struct Odd<> {
        /// A quote and a backslash.
        quote: [f32; 2] = "a\"b\\c", Init::Ones;
        /// A control character.
        tab: [f32; 1] = "tab\there", Init::Zeros;
        /// 150 characters.
        long: [f32; 3] = "a_name_that_is_much_longer_than_any_fixed_buffer_a_reader_might_keep_for_it_so_that_nothing_assumes_a_bound_on_the_length_of_a_name_in_a_file_0123", Init::Ones;
    }
}

impl<S: Storage> Model for Odd<S> {
    const KIND: &'static str = "test \"odd\"";
    const SIZES: &'static [(&'static str, usize)] = &[("k\\ey", 1)];
}

#[test]
fn names_that_need_escaping_or_are_long_round_trip() {
    let mut m = Box::new(Odd::ZERO);
    m.init(&mut Pcg32::seed_from_u64(1));
    m.tab = [7.0];
    let mut buf = vec![0_u8; safetensors::file_len::<Odd>()];
    assert_eq!(safetensors::export(&*m, &mut buf).unwrap(), buf.len());
    let n = u64::from_le_bytes(buf[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&buf[8..8 + n]).unwrap();
    assert!(header.contains(r#""a\"b\\c":{"#), "{header}");
    assert!(header.contains(r#""tab\u0009here":{"#), "{header}");
    assert!(header.contains(r#""model":"test \"odd\"""#), "{header}");
    let mut back = Box::new(Odd::ZERO);
    safetensors::import(&mut *back, &buf).unwrap();
    assert_eq!(back, m);
    let file = AlignedBytes::new(&buf);
    let view: Odd<Ref<'_>> = safetensors::view(file.bytes()).unwrap();
    assert_eq!(view, m.view());
    // A long name compares equal to the same text under another declaration (a
    // window at a time), and not to a name differing in its last byte.
    let long = params::name::<Odd>(2).unwrap();
    let text = long.to_string();
    assert!(text.len() > 128);
    static OTHER: [edgegrad::params::Entry; 1] = [edgegrad::params::Entry::tensor(
        "a_name_that_is_much_longer_than_any_fixed_buffer_a_reader_might_keep_for_it_so_that_nothing_assumes_a_bound_on_the_length_of_a_name_in_a_file_0123",
        Shape::new(&[3]),
        Init::Ones,
    )];
    static ROOT: edgegrad::params::Entry = edgegrad::params::Entry::module("", &OTHER);
    let same = TensorName::new(&ROOT, 0).unwrap();
    assert_eq!(long, same);
    assert!(long == text.as_str());
    static NEAR: [edgegrad::params::Entry; 1] = [edgegrad::params::Entry::tensor(
        "a_name_that_is_much_longer_than_any_fixed_buffer_a_reader_might_keep_for_it_so_that_nothing_assumes_a_bound_on_the_length_of_a_name_in_a_file_0124",
        Shape::new(&[3]),
        Init::Ones,
    )];
    static NEAR_ROOT: edgegrad::params::Entry = edgegrad::params::Entry::module("", &NEAR);
    assert_ne!(long, TensorName::new(&NEAR_ROOT, 0).unwrap());
    let mut near = text.clone();
    near.pop();
    near.push('4');
    assert!(long != near.as_str());
}
