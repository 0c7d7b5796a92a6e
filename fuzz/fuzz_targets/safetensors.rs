//! Any byte string given to the safetensors readers: no panic, and a refused file leaves
//! the model as it was. Seed with `tests/data/numpy_lm.safetensors` (its shapes are the
//! ones below).
#![no_main]

use edgegrad::attention::{AttentionLm, AttentionWeights};
use edgegrad::params::Init;
use edgegrad::safetensors::{self, Aligned};
use edgegrad::word2vec::Word2Vec;
use libfuzzer_sys::fuzz_target;

type Lm = AttentionLm<13, 10, 12, 6>;

fuzz_target!(|data: &[u8]| {
    let mut model = Box::new(Lm::ZERO);
    model.b_out[0] = 1.5;
    if model.load_safetensors(data).is_err() {
        assert_eq!(model.b_out[0], 1.5);
        assert!(model.tok_emb.as_slice().iter().all(|&x| x == 0.0));
    }
    // In place, from an aligned copy and from a misaligned one.
    let mut buf = Box::new(Aligned([0_u8; 1 << 16]));
    if data.len() < buf.0.len() {
        buf.0[..data.len()].copy_from_slice(data);
        let _ = AttentionWeights::<13, 10, 12, 6>::from_safetensors(&buf.0[..data.len()]);
        if data.len() + 1 < buf.0.len() {
            buf.0[1..=data.len()].copy_from_slice(data);
            let _ = AttentionWeights::<13, 10, 12, 6>::from_safetensors(&buf.0[1..=data.len()]);
        }
    }
    let mut w2v = Box::new(Word2Vec::<8, 4>::ZERO);
    let _ = w2v.load_safetensors(data);
    // A nested declaration of more tensors than the reader's window (parsed again per
    // window): refused files leave it unchanged too.
    let mut deep = Box::new(Deep::ZERO);
    deep.ln_f.weight[0] = 2.5;
    if safetensors::import(&mut *deep, data).is_err() {
        assert_eq!(deep.ln_f.weight[0], 2.5);
    }
    if data.len() < buf.0.len() {
        buf.0[..data.len()].copy_from_slice(data);
        let _: Result<Deep<edgegrad::params::Ref<'_>>, _> = safetensors::view(&buf.0[..data.len()]);
    }
});

edgegrad::params! {
    /// A gain and a shift.
    pub struct Norm<> {
        /// Gain.
        weight: [f32; 3] = "weight", Init::Ones;
        /// Shift.
        bias: [f32; 3] = "bias", Init::Zeros;
    }
}

edgegrad::params! {
    /// Embeddings, twelve norms and a last one: 27 tensors, GPT-2's shape of names.
    pub struct Deep<> {
        /// Embeddings.
        tensor wte: edgegrad::tensor::Matrix<4, 3> = "wte.weight", Init::Zeros;
        /// The blocks.
        module h: [Norm<S>; 12] = "h";
        /// The last one.
        module ln_f: Norm<S> = "ln_f";
    }
}

impl<S: edgegrad::params::Storage> safetensors::Model for Deep<S> {
    const KIND: &'static str = "fuzz.deep";
    const SIZES: &'static [(&'static str, usize)] = &[];
}
