//! Parameters declared once: every model's (or layer's) tensors are listed in a single
//! [`params!`](crate::params!) declaration, and everything that iterates over them is
//! derived from it.
//!
//! A declaration gives each tensor a field, a type (its shape), a name in files and an
//! initialisation, and may nest declared modules (`transformer.h.3.attn…`). From it
//! come:
//!
//! - the struct, generic over its [`Storage`]: [`Owned`] (the model, with a `const
//!   ZERO` for a `static`) or [`Ref<'a>`] (borrowed weights: from an owned model by
//!   `view()`, or in place from a safetensors file);
//! - [`Params::LAYOUT`], the declaration as constant data ([`Entry`]): the tensor count,
//!   the parameter count, every tensor's full name ([`TensorName`]), shape and
//!   [`Init`], and the safetensors layout;
//! - indexed access to each tensor ([`Params::tensor`], [`ParamsMut::tensor_mut`]), on
//!   which the model-agnostic operations work: [`zero`], [`copy`], [`scale`], [`init`],
//!   [`accumulate`], [`global_norm`], and the optimisers and clipping of
//!   [`crate::train`].
//!
//! So a new tensor is mentioned in one place, its declaration, and the optimiser, the
//! file formats and the gradient checks pick it up.
//!
//! ```
//! use edgegrad::params::{self, Init, Params};
//! use edgegrad::tensor::Matrix;
//! use rand_core::SeedableRng;
//!
//! edgegrad::params! {
//!     /// A linear layer `y = x·W + b`.
//!     pub struct Dense<const I: usize, const O: usize> {
//!         /// `I × O`.
//!         weight: Matrix<I, O> = "weight", Init::UniformFanIn;
//!         /// `O`.
//!         bias: [f32; O] = "bias", Init::Zeros;
//!     }
//! }
//!
//! let mut layer = Dense::<3, 2>::ZERO;
//! layer.init(&mut rand_pcg::Pcg32::seed_from_u64(1));
//! assert_eq!(Dense::<3, 2>::PARAMETERS, 8);
//! assert_eq!(Dense::<3, 2>::TENSOR_NAMES, ["weight", "bias"]);
//! assert_eq!(layer.tensor(1), &[0.0, 0.0]);
//! let view = layer.view(); // Dense<3, 2, Ref<'_>>: two references
//! assert_eq!(view.weight, &layer.weight.0);
//! assert!(params::global_norm(&layer) > 0.0);
//! ```

mod declare;
mod layout;
mod storage;
mod tensor;

use rand_core::RngCore;

use crate::error::Result;
use crate::kernels;
use crate::random::{fill_normal, fill_uniform};

pub use layout::{Entry, Init, Node, Spec, TensorName};
pub use storage::{Owned, Ref, Storage, StorageMut};
pub use tensor::Tensor;

#[cfg(feature = "safetensors")]
pub(crate) use layout::{ByteWriter, digits};

/// A parameter struct: its declaration, and each of its tensors by index (declaration
/// order, depth first). Implemented by [`params!`](crate::params!) for every storage.
pub trait Params {
    /// The declaration: a module [`Entry`] with every tensor's name, shape and
    /// initialisation.
    const LAYOUT: &'static Entry;
    /// Number of tensors.
    const TENSORS: usize = Self::LAYOUT.tensors();
    /// Number of `f32` parameters.
    const PARAMETERS: usize = Self::LAYOUT.elements();

    /// Tensor `i` as a flat row-major slice (empty for `i ≥ TENSORS`).
    fn tensor(&self, i: usize) -> &[f32];
}

/// A parameter struct whose tensors can be written.
pub trait ParamsMut: Params {
    /// Tensor `i` as a mutable slice (empty for `i ≥ TENSORS`).
    fn tensor_mut(&mut self, i: usize) -> &mut [f32];
}

/// A parameter struct with a borrowed form ([`Ref`] storage).
pub trait View {
    /// The same struct with every tensor borrowed.
    type Ref<'a>
    where
        Self: 'a;
    /// Borrows every tensor.
    fn view(&self) -> Self::Ref<'_>;
}

/// A borrowed parameter struct built from a flat slice per tensor (weights read in
/// place from a file).
pub trait FromTensors<'a>: Sized {
    /// Builds the struct, asking `tensor(i)` for tensor `i`'s elements, in order; a
    /// slice of the wrong length is [`Error::LengthMismatch`](crate::Error::LengthMismatch).
    fn from_tensors(tensor: &mut dyn FnMut(usize) -> Result<&'a [f32]>) -> Result<Self>;
}

/// A `const` all-zero value, so that a model can be a `static` or be boxed without
/// being built on the stack.
pub trait Zero {
    /// All zeros.
    const ZERO: Self;
}

/// Storage that borrows from a slice ([`Ref`]), for [`FromTensors`].
pub trait StorageFrom<'a>: Storage {
    /// The array of tensor type `X` over `s` (`None` if `s` is not `X::LEN` long).
    fn from_flat<X: Tensor>(s: &'a [f32]) -> Option<Self::Tensor<X>>;
}

impl<'a> StorageFrom<'a> for Ref<'a> {
    #[inline]
    fn from_flat<X: Tensor>(s: &'a [f32]) -> Option<&'a X::Array> {
        X::from_flat(s)
    }
}

impl<const N: usize> Zero for [f32; N] {
    const ZERO: Self = [0.0; N];
}

impl<const R: usize, const C: usize> Zero for crate::tensor::Matrix<R, C> {
    const ZERO: Self = crate::tensor::Matrix::ZERO;
}

impl<const K: usize, const C: usize> Zero for crate::tensor::WideVector<K, C> {
    const ZERO: Self = crate::tensor::WideVector::ZERO;
}

impl<const R: usize, const K: usize, const C: usize> Zero for crate::tensor::WideMatrix<R, K, C> {
    const ZERO: Self = crate::tensor::WideMatrix::ZERO;
}

impl<M: Zero, const N: usize> Zero for [M; N] {
    const ZERO: Self = [M::ZERO; N];
}

/// `N` copies of a module, named `0`, `1`, … under the parent's name (GPT-2's
/// `h.0`, `h.1`, …).
impl<M: Params, const N: usize> Params for [M; N] {
    const LAYOUT: &'static Entry = &Entry {
        name: "",
        node: Node::Repeat {
            count: N,
            item: M::LAYOUT,
        },
    };

    #[inline]
    fn tensor(&self, i: usize) -> &[f32] {
        match i.checked_div(M::TENSORS) {
            Some(k) if k < N => self[k].tensor(i % M::TENSORS),
            _ => &[],
        }
    }
}

impl<M: ParamsMut, const N: usize> ParamsMut for [M; N] {
    #[inline]
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i.checked_div(M::TENSORS) {
            Some(k) if k < N => self[k].tensor_mut(i % M::TENSORS),
            _ => &mut [],
        }
    }
}

impl<M: View, const N: usize> View for [M; N] {
    type Ref<'a>
        = [M::Ref<'a>; N]
    where
        Self: 'a;
    fn view(&self) -> [M::Ref<'_>; N] {
        core::array::from_fn(|k| self[k].view())
    }
}

impl<'a, M: FromTensors<'a> + Params, const N: usize> FromTensors<'a> for [M; N] {
    fn from_tensors(tensor: &mut dyn FnMut(usize) -> Result<&'a [f32]>) -> Result<Self> {
        let mut items = heapless::Vec::<M, N>::new();
        for k in 0..N {
            let base = k * M::TENSORS;
            // Never full: N pushes into a capacity of N.
            let _ = items.push(M::from_tensors(&mut |j| tensor(base + j))?);
        }
        items
            .into_array()
            .map_err(|_| crate::Error::InvalidParameter {
                what: "parameter modules",
                expected: "every module built",
            })
    }
}

/// The name of tensor `i` of `P` (`None` past the last).
pub fn name<P: Params>(i: usize) -> Option<TensorName> {
    TensorName::new(P::LAYOUT, i)
}

/// Sets every parameter to zero (how gradients are cleared before accumulating).
pub fn zero<P: ParamsMut + ?Sized>(p: &mut P) {
    for i in 0..P::TENSORS {
        p.tensor_mut(i).fill(0.0);
    }
}

/// Copies every parameter of `src` into `dst`.
pub fn copy<P: ParamsMut>(dst: &mut P, src: &P) {
    for i in 0..P::TENSORS {
        let (d, s) = (dst.tensor_mut(i), src.tensor(i));
        let n = d.len().min(s.len());
        d[..n].copy_from_slice(&s[..n]);
    }
}

/// Multiplies every parameter by `a` (for example `1/n` after accumulating the
/// gradients of `n` sequences).
pub fn scale<P: ParamsMut + ?Sized>(p: &mut P, a: f32) {
    for i in 0..P::TENSORS {
        kernels::scale(a, p.tensor_mut(i));
    }
}

/// `acc ← acc + g` for every tensor: one more example's gradient in a running sum.
pub fn accumulate<P: ParamsMut>(acc: &mut P, g: &P) {
    for i in 0..P::TENSORS {
        let (a, b) = (acc.tensor_mut(i), g.tensor(i));
        let n = a.len().min(b.len());
        // Equal lengths by construction: the same declaration.
        let _ = kernels::add_assign(&mut a[..n], &b[..n]);
    }
}

/// [`Error::NonFinite`](crate::Error::NonFinite) (`index`: the first such tensor) if a
/// tensor holds a NaN or an infinity: what a backward pass checks of the gradients it
/// added.
#[cfg_attr(not(any(feature = "attention", feature = "gpt")), allow(dead_code))]
pub(crate) fn check_finite<P: Params + ?Sized>(what: &'static str, p: &P) -> crate::Result<()> {
    match (0..P::TENSORS).position(|i| kernels::check_finite(what, p.tensor(i)).is_err()) {
        None => Ok(()),
        Some(index) => Err(crate::Error::NonFinite { what, index }),
    }
}

/// The global norm `sqrt(Σₜ ‖tensor t‖²)` of all parameters, without overflow (as
/// [`kernels::global_norm`]).
pub fn global_norm<P: Params + ?Sized>(p: &P) -> f32 {
    const BATCH: usize = 16;
    // kernels::global_norm takes a list of slices: pass them in fixed-size batches (no
    // allocation) and combine the batch norms, which is itself a norm of norms.
    let mut total = 0.0_f32;
    for start in (0..P::TENSORS).step_by(BATCH) {
        let n = BATCH.min(P::TENSORS - start);
        let views: [&[f32]; BATCH] = core::array::from_fn(|j| p.tensor(start + j));
        let batch = kernels::global_norm(&views[..n]);
        total = kernels::global_norm(&[&[total, batch][..]]);
    }
    total
}

/// Initialises every tensor as its declaration's [`Init`] says, in declaration order,
/// drawing from `rng`.
pub fn init<P: ParamsMut + ?Sized, R: RngCore + ?Sized>(p: &mut P, rng: &mut R) {
    for i in 0..P::TENSORS {
        let Some(spec) = P::LAYOUT.spec(i) else {
            continue;
        };
        let t = p.tensor_mut(i);
        match spec.init {
            Init::Zeros => t.fill(0.0),
            Init::Ones => t.fill(1.0),
            Init::Uniform { bound } => fill_uniform(t, bound, rng),
            Init::UniformFanIn => {
                let fan_in = spec.shape.dim(0).max(1) as f32;
                fill_uniform(t, SQRT_3 * (1.0 / libm::sqrtf(fan_in)), rng);
            }
            Init::Normal { sd } => fill_normal(t, sd, rng),
            Init::ResidualNormal { sd } => {
                let n = P::LAYOUT.repeats(i) as f32;
                fill_normal(t, sd / libm::sqrtf(2.0 * n), rng);
            }
            Init::Sinusoidal => {
                let cols = if spec.shape.rank() >= 2 {
                    spec.shape.dim(1) as usize
                } else {
                    t.len()
                };
                sinusoidal(t, cols);
            }
        }
    }
}

/// `√3`: a uniform distribution on `±√3·σ` has standard deviation `σ`.
pub const SQRT_3: f32 = 1.732_050_8;

/// The sinusoidal position encoding written into rows of `cols` values.
fn sinusoidal(pe: &mut [f32], cols: usize) {
    for (pos, row) in pe.chunks_mut(cols.max(1)).enumerate() {
        for (i, pair) in row.chunks_mut(2).enumerate() {
            let freq = libm::powf(10_000.0, -((2 * i) as f32) / cols as f32);
            let angle = pos as f32 * freq;
            pair[0] = libm::sinf(angle);
            if let Some(c) = pair.get_mut(1) {
                *c = libm::cosf(angle);
            }
        }
    }
}
