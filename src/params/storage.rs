//! Storage: whether a parameter struct owns its tensors or borrows them.
//!
//! Every parameter struct is generic over its storage `S`, as heapless's containers
//! are: one definition gives the owned model (`S =` [`Owned`], the default: each tensor
//! inline), its borrowed weights (`S =` [`Ref<'a>`]: each tensor a `&'a` array, from an
//! owned model or in place from a file in flash).

use core::fmt::Debug;
use core::marker::PhantomData;

use super::tensor::Tensor;

/// How a parameter struct holds each of its tensors.
pub trait Storage {
    /// What a field declared as tensor type `X` holds.
    type Tensor<X: Tensor>: Debug + PartialEq;
    /// The field's array.
    fn array<X: Tensor>(t: &Self::Tensor<X>) -> &X::Array;
}

/// Storage whose tensors can be written.
pub trait StorageMut: Storage {
    /// The field's array, mutable.
    fn array_mut<X: Tensor>(t: &mut Self::Tensor<X>) -> &mut X::Array;
}

/// Tensors stored inline: the struct is the model (a `static`, or a `Box` on a host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {}

/// Tensors borrowed for `'a`: `&'a X::Array` for a tensor of type `X`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref<'a>(PhantomData<&'a ()>);

impl Storage for Owned {
    type Tensor<X: Tensor> = X;
    #[inline]
    fn array<X: Tensor>(t: &X) -> &X::Array {
        t.array()
    }
}

impl StorageMut for Owned {
    #[inline]
    fn array_mut<X: Tensor>(t: &mut X) -> &mut X::Array {
        t.array_mut()
    }
}

impl<'a> Storage for Ref<'a> {
    type Tensor<X: Tensor> = &'a X::Array;
    #[inline]
    fn array<'t, X: Tensor>(t: &'t &'a X::Array) -> &'t X::Array {
        t
    }
}
