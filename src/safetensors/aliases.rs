//! What a file may hold besides a model's tensors under their declared names: a
//! prefix it may leave out, a tied copy of a tensor, and non-parameter buffers, as
//! Hugging Face's GPT-2 checkpoints have them.

use crate::params::Entry;

/// The names a safetensors file may use besides a model's declared ones. Everything
/// else keeps the strict checks of [`crate::safetensors`]; [`NONE`](Self::NONE) allows
/// nothing more.
///
/// ```
/// use edgegrad::safetensors::{Aliases, Buffers, Tied};
/// // GPT-2 with L = 2 layers: what `GPT2LMHeadModel` and `GPT2Model` files may hold.
/// const GPT2: Aliases = Aliases {
///     optional_prefix: "transformer.",
///     tied: Some(Tied { name: "lm_head.weight", to: 0 }),
///     buffers: Some(Buffers { module: "transformer.h", count: 2, names: &["attn.bias", "attn.masked_bias"] }),
/// };
/// assert_eq!(GPT2.extras(), 1 + 2 * 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aliases {
    /// A prefix of declared names that a file may leave out, tensor by tensor (GPT-2's
    /// `transformer.`, absent from files saved by `GPT2Model`); empty for none.
    pub optional_prefix: &'static str,
    /// A tensor a file may add under another name, equal to a declared one.
    pub tied: Option<Tied>,
    /// Non-parameter entries a file may hold, read past.
    pub buffers: Option<Buffers>,
}

/// A copy of a declared tensor under another name (GPT-2's `lm_head.weight`, tied to
/// `transformer.wte.weight`): if present it must be `F32`, of the same shape, and equal
/// bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tied {
    /// Its name in files.
    pub name: &'static str,
    /// Index of the declared tensor it equals.
    pub to: usize,
}

/// Non-parameter entries under each item of a repeated module, `module.{k}.name` for
/// `k < count` (also without the optional prefix), such as the causal-mask buffers
/// `h.{k}.attn.bias` and `h.{k}.attn.masked_bias` that older `transformers` versions
/// save. Any dtype with a byte size; their bytes must still lie in, and tile, the data
/// section, and each may appear once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffers {
    /// The repeated module's declared name.
    pub module: &'static str,
    /// Its number of items.
    pub count: usize,
    /// The entries' names under each item.
    pub names: &'static [&'static str],
}

impl Aliases {
    /// No alias: only the declared names.
    pub const NONE: Aliases = Aliases {
        optional_prefix: "",
        tied: None,
        buffers: None,
    };

    /// How many entries besides the model's tensors a file may hold.
    pub const fn extras(&self) -> usize {
        let tied = if self.tied.is_some() { 1 } else { 0 };
        match self.buffers {
            Some(b) => tied + b.count * b.names.len(),
            None => tied,
        }
    }

    /// The tensor of `root` that `key` (unescaped) names without the optional prefix.
    pub(super) fn find_unprefixed(&self, root: &Entry, key: &str) -> Option<usize> {
        if self.optional_prefix.is_empty() {
            return None;
        }
        root.find_unprefixed(self.optional_prefix, key)
    }

    /// The extra entry `key` (unescaped) names, numbered from 0: the tied tensor first,
    /// then the buffers item by item, name by name.
    pub(super) fn extra(&self, key: &str) -> Option<usize> {
        let tied = usize::from(self.tied.is_some());
        if self.tied.is_some_and(|t| t.name == key) {
            return Some(0);
        }
        let b = self.buffers?;
        let rest = key
            .strip_prefix(b.module)
            .or_else(|| {
                let short = b.module.strip_prefix(self.optional_prefix)?;
                (!self.optional_prefix.is_empty())
                    .then(|| key.strip_prefix(short))
                    .flatten()
            })?
            .strip_prefix('.')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (num, name) = rest.split_at(digits);
        // Written without leading zeros, as module items are.
        if num.is_empty() || (num.len() > 1 && num.starts_with('0')) {
            return None;
        }
        let k: usize = num.parse().ok().filter(|&k| k < b.count)?;
        let name = name.strip_prefix('.')?;
        let j = b.names.iter().position(|&n| n == name)?;
        Some(tied + k * b.names.len() + j)
    }

    /// Whether extra `e` is the tied tensor.
    pub(super) fn is_tied(&self, e: usize) -> bool {
        self.tied.is_some() && e == 0
    }
}

/// Bytes per element of a safetensors dtype (`None` for the sub-byte ones).
pub(super) fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "F64" | "I64" | "U64" | "C64" => 8,
        _ => return None,
    })
}
