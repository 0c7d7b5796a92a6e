//! The [`params!`](crate::params!) declaration macro.

/// Declares a parameter struct once; everything that iterates over its tensors is
/// generated from the declaration (see [`crate::params`](mod@crate::params)).
///
/// Two forms. Tensors only — each field a [`Tensor`](crate::params::Tensor) type, its
/// name in files and its [`Init`](crate::params::Init):
///
/// ```
/// use edgegrad::params::Init;
/// use edgegrad::tensor::Matrix;
/// edgegrad::params! {
///     /// LayerNorm's gain and shift.
///     pub struct Norm<const D: usize> {
///         /// Gain γ.
///         weight: [f32; D] = "weight", Init::Ones;
///         /// Shift β.
///         bias: [f32; D] = "bias", Init::Zeros;
///     }
/// }
/// assert_eq!(Norm::<4>::TENSOR_NAMES, ["weight", "bias"]);
/// ```
///
/// And with nested modules, each line starting with `tensor` or `module`; a module's
/// type is another declared struct (or an array of them, named by index), written with
/// the storage parameter `S`:
///
/// ```
/// # use edgegrad::params::Init;
/// # edgegrad::params! {
/// #     /// LayerNorm's gain and shift.
/// #     pub struct Norm<const D: usize> {
/// #         /// Gain γ.
/// #         weight: [f32; D] = "weight", Init::Ones;
/// #         /// Shift β.
/// #         bias: [f32; D] = "bias", Init::Zeros;
/// #     }
/// # }
/// use edgegrad::params::{Params, TensorName};
/// use edgegrad::tensor::Matrix;
/// edgegrad::params! {
///     /// Embeddings and `L` normalisation layers.
///     pub struct Model<const V: usize, const D: usize, const L: usize> {
///         /// Token embeddings.
///         tensor wte: Matrix<V, D> = "wte.weight", Init::Normal { sd: 0.02 };
///         /// The layers, `h.0` … `h.{L-1}`.
///         module h: [Norm<D, S>; L] = "h";
///         /// The last one.
///         module ln_f: Norm<D, S> = "ln_f";
///     }
/// }
/// type M = Model<16, 4, 3>;
/// assert_eq!(M::TENSORS, 1 + 3 * 2 + 2);
/// let name = TensorName::new(<M as Params>::LAYOUT, 6).unwrap();
/// assert_eq!(name.to_string(), "h.2.bias");
/// ```
///
/// The struct gets a trailing type parameter `S: Storage = Owned`; its fields are
/// public. Generated: [`Params`](crate::params::Params),
/// [`ParamsMut`](crate::params::ParamsMut) (owned),
/// [`View`](crate::params::View), [`FromTensors`](crate::params::FromTensors)
/// (borrowed), [`Zero`](crate::params::Zero) (owned), `Debug`, `PartialEq`, `Clone` and
/// `Copy` (borrowed), `From<&Owned>` for the borrowed form, and on the owned struct the
/// constants `ZERO`, `TENSORS`, `PARAMETERS`, `BYTES` and the methods `zero`,
/// `copy_from`, `scale`, `init`, `view` and `tensor_name`. The tensors-only form adds
/// `TENSOR_NAMES` and the arrays `tensors()` and `tensors_mut()`.
#[macro_export]
macro_rules! params {
    // Tensors only.
    (
        $(#[$meta:meta])*
        $vis:vis struct $Name:ident < $(const $G:ident : usize),* $(,)? > {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $Ty:ty = $fname:literal, $init:expr;
            )*
        }
    ) => {
        $crate::params! {
            $(#[$meta])*
            $vis struct $Name < $(const $G : usize),* > {
                $( $(#[$fmeta])* tensor $field : $Ty = $fname, $init; )*
            }
        }

        impl<$(const $G: usize,)*> $Name<$($G,)*> {
            /// The tensors' names in files, in declaration order.
            pub const TENSOR_NAMES: [&'static str; 0 $(+ $crate::params!(@one $field))*] =
                [$($fname),*];
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> $Name<$($G,)* S> {
            /// Every tensor as a flat row-major slice, in declaration order.
            pub fn tensors(&self) -> [&[f32]; 0 $(+ $crate::params!(@one $field))*] {
                [$(
                    <$Ty as $crate::params::Tensor>::flat(
                        <S as $crate::params::Storage>::array::<$Ty>(&self.$field),
                    )
                ),*]
            }
        }

        impl<$(const $G: usize,)* S: $crate::params::StorageMut> $Name<$($G,)* S> {
            /// Every tensor as a mutable slice, in declaration order.
            pub fn tensors_mut(&mut self) -> [&mut [f32]; 0 $(+ $crate::params!(@one $field))*] {
                let $Name { $($field),* } = self;
                [$(
                    <$Ty as $crate::params::Tensor>::flat_mut(
                        <S as $crate::params::StorageMut>::array_mut::<$Ty>($field),
                    )
                ),*]
            }
        }
    };

    // Tensors and modules.
    (
        $(#[$meta:meta])*
        $vis:vis struct $Name:ident < $(const $G:ident : usize),* $(,)? > {
            $(
                $(#[$fmeta:meta])*
                $kind:ident $field:ident : $Ty:ty = $fname:literal $(, $init:expr)?;
            )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $Name<$(const $G: usize,)* S: $crate::params::Storage = $crate::params::Owned> {
            $(
                $(#[$fmeta])*
                pub $field: $crate::params!(@field_ty S, $kind, $Ty),
            )*
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> $crate::params::Params
            for $Name<$($G,)* S>
        {
            // Braced literals all the way down, so that the nested arrays live as long
            // as the constant (temporary lifetime extension).
            const LAYOUT: &'static $crate::params::Entry = &$crate::params::Entry {
                name: "",
                node: $crate::params::Node::Module {
                    entries: &[$($crate::params!(@entry $kind, $Ty, $fname $(, $init)?)),*],
                },
            };

            #[allow(unused_assignments, unused_mut)]
            fn tensor(&self, i: usize) -> &[f32] {
                let mut i = i;
                $($crate::params!(@get self, S, i, $kind, $field, $Ty);)*
                &[]
            }
        }

        impl<$(const $G: usize,)* S: $crate::params::StorageMut> $crate::params::ParamsMut
            for $Name<$($G,)* S>
        {
            #[allow(unused_assignments, unused_mut)]
            fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
                let mut i = i;
                $($crate::params!(@get_mut self, S, i, $kind, $field, $Ty);)*
                &mut []
            }
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> $crate::params::View
            for $Name<$($G,)* S>
        {
            type Ref<'a> = $Name<$($G,)* $crate::params::Ref<'a>> where Self: 'a;
            fn view(&self) -> Self::Ref<'_> {
                $Name {
                    $($field: $crate::params!(@view self, S, $kind, $field, $Ty),)*
                }
            }
        }

        impl<'a, $(const $G: usize,)* S: $crate::params::StorageFrom<'a>>
            $crate::params::FromTensors<'a> for $Name<$($G,)* S>
        {
            #[allow(unused_assignments, unused_mut, unused_variables)]
            fn from_tensors(
                tensor: &mut dyn FnMut(usize) -> $crate::Result<&'a [f32]>,
            ) -> $crate::Result<Self> {
                let mut at = 0_usize;
                Ok($Name {
                    $($field: $crate::params!(@build tensor, at, S, $kind, $Ty),)*
                })
            }
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> $crate::params::Zero
            for $Name<$($G,)* S>
        where
            $($crate::params!(@field_ty S, $kind, $Ty): $crate::params::Zero,)*
        {
            const ZERO: Self = $Name {
                $($field: <$crate::params!(@field_ty S, $kind, $Ty) as $crate::params::Zero>::ZERO,)*
            };
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> ::core::fmt::Debug
            for $Name<$($G,)* S>
        {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(stringify!($Name))
                    $(.field(stringify!($field), &self.$field))*
                    .finish()
            }
        }

        impl<$(const $G: usize,)* S: $crate::params::Storage> ::core::cmp::PartialEq
            for $Name<$($G,)* S>
        {
            fn eq(&self, other: &Self) -> bool {
                true $(&& self.$field == other.$field)*
            }
        }

        impl<'a, $(const $G: usize,)*> ::core::clone::Clone
            for $Name<$($G,)* $crate::params::Ref<'a>>
        {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<'a, $(const $G: usize,)*> ::core::marker::Copy
            for $Name<$($G,)* $crate::params::Ref<'a>>
        {
        }

        impl<'a, $(const $G: usize,)*> ::core::convert::From<&'a $Name<$($G,)*>>
            for $Name<$($G,)* $crate::params::Ref<'a>>
        {
            fn from(owned: &'a $Name<$($G,)*>) -> Self {
                $crate::params::View::view(owned)
            }
        }

        impl<$(const $G: usize,)*> $Name<$($G,)*> {
            /// All parameters zero: a valid value for a `static` (or a `Box` on a host),
            /// built without touching the stack.
            pub const ZERO: Self = <Self as $crate::params::Zero>::ZERO;

            /// Number of tensors.
            pub const TENSORS: usize = <Self as $crate::params::Params>::TENSORS;

            /// Number of `f32` parameters.
            pub const PARAMETERS: usize = <Self as $crate::params::Params>::PARAMETERS;

            /// Bytes this struct takes (all `f32`, no padding): `4 ·` `PARAMETERS`.
            pub const BYTES: usize = ::core::mem::size_of::<Self>();

            /// Sets every parameter to zero (how gradients are cleared before
            /// accumulating).
            pub fn zero(&mut self) {
                $crate::params::zero(self)
            }

            /// Copies every parameter of `other` into `self`.
            pub fn copy_from(&mut self, other: &Self) {
                $crate::params::copy(self, other)
            }

            /// Multiplies every parameter by `a` (for example `1/n` after accumulating
            /// the gradients of `n` sequences).
            pub fn scale(&mut self, a: f32) {
                $crate::params::scale(self, a)
            }

            /// Initialises every tensor in place as its declaration says, in
            /// declaration order, drawing from `rng`.
            pub fn init<R: $crate::rand_core::RngCore + ?Sized>(&mut self, rng: &mut R) {
                $crate::params::init(self, rng)
            }

            /// Every tensor borrowed (the borrowed weights everything that only reads
            /// them takes).
            pub fn view(&self) -> $Name<$($G,)* $crate::params::Ref<'_>> {
                $crate::params::View::view(self)
            }

            /// The full name of tensor `i` in files (`None` past the last).
            pub fn tensor_name(i: usize) -> ::core::option::Option<$crate::params::TensorName> {
                $crate::params::name::<Self>(i)
            }
        }
    };

    (@one $x:tt) => { 1 };

    (@field_ty $S:ident, tensor, $Ty:ty) => {
        <$S as $crate::params::Storage>::Tensor<$Ty>
    };
    (@field_ty $S:ident, module, $Ty:ty) => { $Ty };

    (@entry tensor, $Ty:ty, $fname:literal, $init:expr) => {
        $crate::params::Entry {
            name: $fname,
            node: $crate::params::Node::Tensor {
                shape: <$Ty as $crate::params::Tensor>::SHAPE,
                init: $init,
            },
        }
    };
    (@entry module, $Ty:ty, $fname:literal) => {
        $crate::params::Entry {
            name: $fname,
            node: (*<$Ty as $crate::params::Params>::LAYOUT).node,
        }
    };

    (@get $self:ident, $S:ident, $i:ident, tensor, $field:ident, $Ty:ty) => {
        if $i == 0 {
            return <$Ty as $crate::params::Tensor>::flat(
                <$S as $crate::params::Storage>::array::<$Ty>(&$self.$field),
            );
        }
        $i -= 1;
    };
    (@get $self:ident, $S:ident, $i:ident, module, $field:ident, $Ty:ty) => {
        let n = <$Ty as $crate::params::Params>::TENSORS;
        if $i < n {
            return $crate::params::Params::tensor(&$self.$field, $i);
        }
        $i -= n;
    };

    (@get_mut $self:ident, $S:ident, $i:ident, tensor, $field:ident, $Ty:ty) => {
        if $i == 0 {
            return <$Ty as $crate::params::Tensor>::flat_mut(
                <$S as $crate::params::StorageMut>::array_mut::<$Ty>(&mut $self.$field),
            );
        }
        $i -= 1;
    };
    (@get_mut $self:ident, $S:ident, $i:ident, module, $field:ident, $Ty:ty) => {
        let n = <$Ty as $crate::params::Params>::TENSORS;
        if $i < n {
            return $crate::params::ParamsMut::tensor_mut(&mut $self.$field, $i);
        }
        $i -= n;
    };

    (@view $self:ident, $S:ident, tensor, $field:ident, $Ty:ty) => {
        <$S as $crate::params::Storage>::array::<$Ty>(&$self.$field)
    };
    (@view $self:ident, $S:ident, module, $field:ident, $Ty:ty) => {
        $crate::params::View::view(&$self.$field)
    };

    (@build $tensor:ident, $at:ident, $S:ident, tensor, $Ty:ty) => {{
        let index = $at;
        $at += 1;
        let flat = $tensor(index)?;
        let len = flat.len();
        <$S as $crate::params::StorageFrom<'a>>::from_flat::<$Ty>(flat).ok_or(
            $crate::Error::LengthMismatch {
                what: "parameter tensor",
                expected: <$Ty as $crate::params::Tensor>::LEN,
                found: len,
            },
        )?
    }};
    (@build $tensor:ident, $at:ident, $S:ident, module, $Ty:ty) => {{
        let base = $at;
        $at += <$Ty as $crate::params::Params>::TENSORS;
        <$Ty as $crate::params::FromTensors<'a>>::from_tensors(&mut |j| $tensor(base + j))?
    }};
}
