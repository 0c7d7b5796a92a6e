//! Kernels: slice-in, slice-out numerical functions and their backward passes.
//!
//! Every kernel checks its shapes and returns [`Error`](crate::Error) instead of
//! panicking, allocates nothing, and computes with the lanes of [`crate::simd`]. They
//! are grouped by what they hold and re-exported here, so `kernels::softmax` and
//! `kernels::softmax::softmax` name the same function.
//!
//! | module | kernels |
//! |---|---|
//! | [`reduce`] | [`sum`], [`max`], [`dot`], [`sq_norm`], [`norm()`], [`global_norm`], [`max_abs`] |
//! | [`elementwise`] | [`axpy`], [`scale`], [`add`], [`add_assign`], [`mul`], [`mul_assign`], [`fill`], [`exp`] |
//! | [`softmax`](mod@softmax) | [`softmax()`], [`softmax_in_place`], [`log_softmax`], [`logsumexp`], [`softmax_backward`], [`softmax_backward_in_place`], [`log_softmax_backward`], and `_rows` variants |
//! | [`norm`](mod@norm) | [`layer_norm`], [`layer_norm_backward`], and `_rows` variants |
//! | [`activation`] | [`gelu`], [`gelu_in_place`], [`gelu_backward`], [`gelu_backward_in_place`] (GPT-2's tanh approximation) |
//! | [`loss`] | [`cross_entropy`], [`cross_entropy_loss`], [`cross_entropy_batch`], [`cross_entropy_batch_loss`], [`cross_entropy_soft`], [`cross_entropy_probs`], [`logistic_loss`] |
//! | [`matmul`](mod@matmul) | [`gemm`], [`matmul()`], [`matmul_nt`], [`matmul_tn`], [`matvec`], [`vecmat`], [`add_bias`], [`col_sum`] |
//! | [`optim`] | [`sgd`], [`sgd_momentum`], [`Adam`], [`clip_grad_norm`], [`zero_grads`], [`accumulate`] |

pub mod activation;
pub mod elementwise;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod reduce;
pub mod softmax;
pub(crate) mod view;

pub use activation::{gelu, gelu_backward, gelu_backward_in_place, gelu_in_place};
pub use elementwise::{add, add_assign, axpy, exp, fill, mul, mul_assign, scale};
pub use loss::{
    cross_entropy, cross_entropy_batch, cross_entropy_batch_loss, cross_entropy_loss,
    cross_entropy_probs, cross_entropy_soft, logistic_loss,
};
pub use matmul::{
    Accum, Trans, add_bias, col_sum, gemm, matmul, matmul_nt, matmul_tn, matvec, vecmat,
};
pub use norm::{layer_norm, layer_norm_backward, layer_norm_backward_rows, layer_norm_rows};
pub use optim::{Adam, AdamStep, accumulate, clip_grad_norm, sgd, sgd_momentum, zero_grads};
pub use reduce::{check_finite, dot, global_norm, max, max_abs, norm, sq_norm, sum};
pub use softmax::{
    log_softmax, log_softmax_backward, log_softmax_backward_rows, log_softmax_rows, logsumexp,
    logsumexp_rows, softmax, softmax_backward, softmax_backward_in_place, softmax_backward_rows,
    softmax_in_place, softmax_rows, softmax_rows_in_place,
};
pub use view::{MatMut, MatRef};
