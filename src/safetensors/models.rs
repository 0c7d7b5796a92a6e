//! The models' safetensors methods: thin wrappers over [`export`](super::export),
//! [`import`](super::import) and [`view`](super::view) under the names the models have
//! always had.

// Some imports serve only the models whose features are on.
#![cfg_attr(
    not(all(feature = "attention", feature = "gpt", feature = "word2vec")),
    allow(unused_imports)
)]

use super::{Aliases, Buffers, Model, Tied, export, file_len, import, view};
#[cfg(feature = "attention")]
use crate::attention::{AttentionLm, AttentionWeights};
use crate::error::Result;
#[cfg(feature = "gpt")]
use crate::gpt::{Gpt, GptWeights};
use crate::params::Storage;
#[cfg(feature = "word2vec")]
use crate::word2vec::Word2Vec;

#[cfg(feature = "attention")]
impl<const V: usize, const T: usize, const D: usize, const DK: usize, S: Storage> Model
    for AttentionLm<V, T, D, DK, S>
{
    const KIND: &'static str = "edgegrad.attention_lm";
    const SIZES: &'static [(&'static str, usize)] =
        &[("vocab", V), ("context", T), ("d_model", D), ("d_head", DK)];
}

#[cfg(feature = "attention")]
impl<const V: usize, const T: usize, const D: usize, const DK: usize> AttentionLm<V, T, D, DK> {
    /// Exact size in bytes of the safetensors file
    /// [`to_safetensors`](Self::to_safetensors) writes: the 8-byte length, the header
    /// padded so that the data starts at a multiple of 64, and `4 ·` [`PARAMETERS`](Self::PARAMETERS) bytes of
    /// data. A `const`, so the buffer can be a `static` array.
    pub const SAFETENSORS_BYTES: usize = file_len::<Self>();

    /// Writes the parameters as a safetensors file at the start of `out` (at least
    /// [`SAFETENSORS_BYTES`](Self::SAFETENSORS_BYTES) long) and returns the number of
    /// bytes written.
    ///
    /// The file holds the eight tensors under [`TENSOR_NAMES`](Self::TENSOR_NAMES),
    /// dtype `F32`, shapes `[V, D]`, `[T, D]`, `[D, DK]` ×3, `[DK, D]`, `[D, V]` and
    /// `[V]`, and `__metadata__` `{"model": "edgegrad.attention_lm", "vocab": "V",
    /// "context": "T", "d_model": "D", "d_head": "DK"}`. In Python,
    /// `safetensors.numpy.load_file(path)` gives the same arrays.
    ///
    /// Refused before a byte is written: `out` shorter than the file
    /// ([`Error::InvalidLength`](crate::Error::InvalidLength)), and a NaN or infinite
    /// weight, which no reader would accept
    /// ([`FormatProblem::NonFinite`](crate::FormatProblem::NonFinite)).
    ///
    /// ```
    /// use edgegrad::attention::AttentionLm;
    /// type Lm = AttentionLm<8, 4, 4, 2>;
    /// let mut buf = [0_u8; Lm::SAFETENSORS_BYTES];
    /// assert_eq!(Lm::ZERO.to_safetensors(&mut buf)?, buf.len());
    /// assert!(Lm::ZERO.to_safetensors(&mut buf[1..]).is_err()); // too small
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn to_safetensors(&self, out: &mut [u8]) -> Result<usize> {
        export(self, out)
    }

    /// Replaces the parameters with those of a safetensors file (little-endian `F32`
    /// tensors under [`TENSOR_NAMES`](Self::TENSOR_NAMES) with this model's shapes; any
    /// alignment). The whole file is checked first — see [`crate::safetensors`] — and
    /// on any error the model is unchanged.
    ///
    /// ```
    /// use edgegrad::{attention::AttentionLm, Error, FormatProblem};
    /// type Lm = AttentionLm<8, 4, 4, 2>;
    /// let mut buf = [0_u8; Lm::SAFETENSORS_BYTES];
    /// Lm::ZERO.to_safetensors(&mut buf)?;
    /// // A model of another size refuses the file and names the first tensor that differs.
    /// let err = AttentionLm::<9, 4, 4, 2>::ZERO.load_safetensors(&buf).unwrap_err();
    /// assert!(matches!(err, Error::Safetensors { tensor: Some(t), problem: FormatProblem::WrongShape { .. } } if t == "tok_emb"));
    /// assert_eq!(err.to_string(), "safetensors tensor `tok_emb`: shape [8, 4], expected [9, 4]");
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<()> {
        import(self, bytes)
    }
}

#[cfg(feature = "attention")]
impl<'a, const V: usize, const T: usize, const D: usize, const DK: usize>
    AttentionWeights<'a, V, T, D, DK>
{
    /// The weights of a safetensors file, read in place: no copy, so on a
    /// microcontroller they stay in flash and only the activations need RAM. The file
    /// is checked as by [`AttentionLm::load_safetensors`]; in addition each tensor must
    /// be 4-byte aligned in memory ([`FormatProblem::Misaligned`](crate::FormatProblem::Misaligned)
    /// otherwise). That holds for a file whose header is padded to a multiple of 8 bytes
    /// (as edgegrad and the `safetensors` package write them) placed at an address that
    /// is a multiple of 8: embed it with [`include_safetensors!`](crate::include_safetensors),
    /// or read it into an [`Aligned`](crate::safetensors::Aligned) buffer. Big-endian targets
    /// cannot read little-endian data in place and get
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter).
    ///
    /// ```
    /// use edgegrad::attention::{AttentionLm, AttentionWeights, Decoder, Sampling};
    /// use edgegrad::safetensors::Aligned;
    /// use rand_core::SeedableRng;
    /// type Lm = AttentionLm<16, 8, 8, 4>;
    /// let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    /// let mut model = Lm::ZERO;
    /// model.init(&mut rng);
    /// let mut file = Aligned([0_u8; Lm::SAFETENSORS_BYTES]);
    /// model.to_safetensors(&mut file.0)?;
    ///
    /// let weights = AttentionWeights::<16, 8, 8, 4>::from_safetensors(&file.0)?;
    /// let mut decoder = Decoder::ZERO;
    /// let mut out = [0_u16; 4];
    /// decoder.generate(weights, &[1, 2], &mut out, Sampling::Greedy, &mut rng)?;
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn from_safetensors(bytes: &'a [u8]) -> Result<Self> {
        view(bytes)
    }

    /// Writes these weights as a safetensors file, exactly as
    /// [`AttentionLm::to_safetensors`] does.
    pub fn to_safetensors(&self, out: &mut [u8]) -> Result<usize> {
        export(self, out)
    }
}

#[cfg(feature = "word2vec")]
impl<const V: usize, const D: usize, S: Storage> Model for Word2Vec<V, D, S> {
    const KIND: &'static str = "edgegrad.word2vec";
    const SIZES: &'static [(&'static str, usize)] = &[("vocab", V), ("dim", D)];
}

#[cfg(feature = "word2vec")]
impl<const V: usize, const D: usize> Word2Vec<V, D> {
    /// Exact size in bytes of the safetensors file
    /// [`to_safetensors`](Self::to_safetensors) writes.
    pub const SAFETENSORS_BYTES: usize = file_len::<Self>();

    /// Writes the embeddings as a safetensors file at the start of `out` (at least
    /// [`SAFETENSORS_BYTES`](Self::SAFETENSORS_BYTES) long): tensors `input` and
    /// `output`, `F32`, shape `[V, D]`, and `__metadata__` `{"model":
    /// "edgegrad.word2vec", "vocab": "V", "dim": "D"}`. Returns the bytes written. The
    /// words themselves are not part of the file (row `i` is id `i` of the
    /// [`Vocab`](crate::vocab::Vocab)); [`write_text`](Self::write_text) writes both.
    ///
    /// ```
    /// use edgegrad::word2vec::Word2Vec;
    /// let mut w = Word2Vec::<4, 3>::ZERO;
    /// w.input.row_mut(2)[1] = 0.5;
    /// let mut buf = [0_u8; Word2Vec::<4, 3>::SAFETENSORS_BYTES];
    /// w.to_safetensors(&mut buf)?;
    /// let mut back = Word2Vec::<4, 3>::ZERO;
    /// back.load_safetensors(&buf)?;
    /// assert_eq!(back, w);
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn to_safetensors(&self, out: &mut [u8]) -> Result<usize> {
        export(self, out)
    }

    /// Replaces the embeddings with those of a safetensors file, checked in full first
    /// (see [`crate::safetensors`]); on any error the model is unchanged.
    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<()> {
        import(self, bytes)
    }
}

#[cfg(feature = "gpt")]
impl<
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
    S: Storage,
> Model for Gpt<V, T, D, N, F, L, S>
{
    const KIND: &'static str = "edgegrad.gpt";
    const SIZES: &'static [(&'static str, usize)] = &[
        ("vocab", V),
        ("context", T),
        ("d_model", D),
        ("heads", N),
        ("d_mlp", F),
        ("layers", L),
    ];
    /// Hugging Face's variants of the layout: `GPT2Model` files without the
    /// `transformer.` prefix, `lm_head.weight` (tied to `wte`), and the causal-mask
    /// buffers older `transformers` versions save.
    const ALIASES: Aliases = Aliases {
        optional_prefix: "transformer.",
        tied: Some(Tied {
            name: "lm_head.weight",
            to: 0,
        }),
        buffers: Some(Buffers {
            module: "transformer.h",
            count: L,
            names: &["attn.bias", "attn.masked_bias"],
        }),
    };
}

#[cfg(feature = "gpt")]
impl<const V: usize, const T: usize, const D: usize, const N: usize, const F: usize, const L: usize>
    Gpt<V, T, D, N, F, L>
{
    /// Exact size in bytes of the safetensors file
    /// [`to_safetensors`](Self::to_safetensors) writes. A `const`, so the buffer can be a
    /// `static` array.
    pub const SAFETENSORS_BYTES: usize = file_len::<Self>();

    /// Writes the parameters as a safetensors file at the start of `out` (at least
    /// [`SAFETENSORS_BYTES`](Self::SAFETENSORS_BYTES) long) and returns the number of
    /// bytes written: Hugging Face GPT-2's names and shapes (`transformer.wte.weight`
    /// `[V, D]`, …, `transformer.ln_f.bias` `[D]`), which `GPT2LMHeadModel.from_pretrained`
    /// loads (its `lm_head.weight` is tied to `wte`), and `__metadata__` `{"model":
    /// "edgegrad.gpt", "vocab": "V", "context": "T", "d_model": "D", "heads": "N",
    /// "d_mlp": "F", "layers": "L"}`. Refused before a byte is written, as
    /// [`AttentionLm::to_safetensors`](crate::attention::AttentionLm::to_safetensors)
    /// is: a buffer too short, a weight that is not finite.
    pub fn to_safetensors(&self, out: &mut [u8]) -> Result<usize> {
        export(self, out)
    }

    /// Replaces the parameters with those of a safetensors file, checked in full first
    /// (see [`crate::safetensors`]); on any error the model is unchanged. Besides this
    /// model's own files, files saved by `transformers` for a GPT-2 config of these sizes
    /// load: `GPT2LMHeadModel`'s (with or without `lm_head.weight`, which must then equal
    /// `wte`), `GPT2Model`'s (no `transformer.` prefix), and older versions' with the
    /// `attn.bias`/`attn.masked_bias` buffers, which are read past.
    ///
    /// ```
    /// use edgegrad::{gpt::Gpt, Error, FormatProblem};
    /// type Tiny = Gpt<8, 4, 4, 2, 8, 1>;
    /// let mut buf = vec![0_u8; Tiny::SAFETENSORS_BYTES];
    /// Tiny::ZERO.to_safetensors(&mut buf)?;
    /// let mut model = Box::new(Tiny::ZERO);
    /// model.load_safetensors(&buf)?;
    /// // A model with another vocabulary refuses the file and names the tensor.
    /// let err = Box::new(Gpt::<9, 4, 4, 2, 8, 1>::ZERO).load_safetensors(&buf).unwrap_err();
    /// assert!(matches!(err, Error::Safetensors { tensor: Some(t), problem: FormatProblem::WrongShape { .. } } if t == "transformer.wte.weight"));
    /// # Ok::<(), edgegrad::Error>(())
    /// ```
    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<()> {
        import(self, bytes)
    }
}

#[cfg(feature = "gpt")]
impl<
    'a,
    const V: usize,
    const T: usize,
    const D: usize,
    const N: usize,
    const F: usize,
    const L: usize,
> GptWeights<'a, V, T, D, N, F, L>
{
    /// The weights of a safetensors file, read in place (in flash on a microcontroller):
    /// checked as by [`Gpt::load_safetensors`], and each tensor must be 4-byte aligned in
    /// memory (see [`AttentionWeights::from_safetensors`](crate::attention::AttentionWeights::from_safetensors)).
    pub fn from_safetensors(bytes: &'a [u8]) -> Result<Self> {
        view(bytes)
    }

    /// Writes these weights as a safetensors file, exactly as [`Gpt::to_safetensors`]
    /// does.
    pub fn to_safetensors(&self, out: &mut [u8]) -> Result<usize> {
        export(self, out)
    }
}
