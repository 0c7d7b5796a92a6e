//! A counting global allocator proves that no public kernel allocates, that the
//! models train and generate without allocating, and that safetensors export, import
//! and in-place inference do not either.
#![cfg(all(
    feature = "attention",
    feature = "gpt",
    feature = "safetensors",
    feature = "word2vec"
))]
mod common;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use edgegrad::attention::{
    AttentionCache, AttentionLm, AttentionOptState, AttentionWeights, Decoder, Optimizer, Sampling,
    TrainConfig,
};
use edgegrad::gpt::{Gpt, GptCache, GptDecoder, GptOptState, GptWeights};
use edgegrad::safetensors::Aligned;
use edgegrad::vocab::{Vocab, VocabBuilder};
use edgegrad::word2vec::{Architecture, Objective, Word2Vec, Word2VecConfig, Word2VecTrainer};
use edgegrad::{
    MatMut, MatRef, kernels as k,
    kernels::{Accum, Adam, Trans},
    simd,
};
use rand_core::SeedableRng;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls per thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCS.with(|c| c.get())
}

#[test]
fn no_kernel_allocates() {
    let mut rng = common::Rng::new(50);
    let (m, n, kk) = (37, 67, 300);
    let a = rng.vec(m * kk, -1.0, 1.0);
    let b = rng.vec(kk * n, -1.0, 1.0);
    let bt = rng.vec(n * kk, -1.0, 1.0);
    let mut c = vec![0.0; m * n];
    let x = rng.vec(n, -3.0, 3.0);
    let mut y = vec![0.0; n];
    let mut z = vec![0.0; n];
    let ones = vec![1.0; n];
    let (mut dg, mut db) = (vec![0.0; n], vec![0.0; n]);
    let mut st = [[0.0; 2]; 4];
    let rows = vec![0.5_f32; 4 * n];
    let mut rows_out = vec![0.0; 4 * n];
    let mut lse = vec![0.0; 4];
    let targets = [1_u16, 2, 3, 0];
    let mut p = rng.vec(n, -1.0, 1.0);
    let (mut mo, mut vo, mut vel) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut g2 = vec![1.0; 9];
    let mut xm = vec![0.0; m];

    let before = allocations();
    {
        let am = MatRef::new(&a, m, kk).unwrap();
        k::gemm(
            0.5,
            am,
            Trans::N,
            MatRef::new(&b, kk, n).unwrap(),
            Trans::N,
            1.0,
            MatMut::new(&mut c, m, n).unwrap(),
        )
        .unwrap();
        k::matmul(
            am,
            MatRef::new(&b, kk, n).unwrap(),
            MatMut::new(&mut c, m, n).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
        k::matmul_nt(
            am,
            MatRef::new(&bt, n, kk).unwrap(),
            MatMut::new(&mut c, m, n).unwrap(),
            Accum::Add,
        )
        .unwrap();
        k::matmul_tn(
            MatRef::new(&a[..m * m], m, m).unwrap(),
            MatRef::new(&b[..m * n], m, n).unwrap(),
            MatMut::new(&mut c, m, n).unwrap(),
            Accum::Add,
        )
        .unwrap();
        k::gemm(
            1.0,
            MatRef::new(&a[..m * m], m, m).unwrap(),
            Trans::T,
            MatRef::new(&bt[..n * m], n, m).unwrap(),
            Trans::T,
            0.0,
            MatMut::new(&mut c, m, n).unwrap(),
        )
        .unwrap();
        k::matvec(
            MatRef::new(&b[..m * n], m, n).unwrap(),
            &x,
            &mut xm,
            Accum::Overwrite,
        )
        .unwrap();
        k::vecmat(
            &xm,
            MatRef::new(&b[..m * n], m, n).unwrap(),
            &mut y,
            Accum::Add,
        )
        .unwrap();
        k::add_bias(MatMut::new(&mut c, m, n).unwrap(), &x).unwrap();
        k::col_sum(MatRef::new(&c, m, n).unwrap(), &mut y, Accum::Overwrite).unwrap();

        k::softmax(&x, &mut y).unwrap();
        k::softmax_in_place(&mut y).unwrap();
        k::log_softmax(&x, &mut z).unwrap();
        k::logsumexp(&x).unwrap();
        k::softmax_backward(&y, &x, &mut z).unwrap();
        k::log_softmax_backward(&y, &x, &mut z).unwrap();
        let rm = MatRef::new(&rows, 4, n).unwrap();
        k::softmax_rows(rm, MatMut::new(&mut rows_out, 4, n).unwrap()).unwrap();
        k::softmax_rows_in_place(MatMut::new(&mut rows_out, 4, n).unwrap()).unwrap();
        k::log_softmax_rows(rm, MatMut::new(&mut rows_out, 4, n).unwrap()).unwrap();
        k::logsumexp_rows(rm, &mut lse).unwrap();
        k::softmax_backward_rows(rm, rm, MatMut::new(&mut rows_out, 4, n).unwrap()).unwrap();
        k::log_softmax_backward_rows(rm, rm, MatMut::new(&mut rows_out, 4, n).unwrap()).unwrap();

        k::cross_entropy(&x, 3, &mut y).unwrap();
        k::cross_entropy_loss(&x, 3).unwrap();
        k::cross_entropy_batch(
            rm,
            &targets,
            Some(0),
            MatMut::new(&mut rows_out, 4, n).unwrap(),
        )
        .unwrap();
        k::softmax(&x, &mut y).unwrap();
        k::cross_entropy_soft(&x, &y, &mut z).unwrap();
        k::cross_entropy_probs(&y, &y).unwrap();
        k::logistic_loss(0.3, false).unwrap();

        std::hint::black_box(k::sum(&x));
        std::hint::black_box(k::max(&x));
        std::hint::black_box(k::max_abs(&x));
        k::dot(&x, &y).unwrap();
        std::hint::black_box(k::sq_norm(&x));
        std::hint::black_box(k::norm(&[1e30, 1e30]));
        std::hint::black_box(k::global_norm(&[&x, &y]));
        k::axpy(0.5, &x, &mut y).unwrap();
        k::scale(0.5, &mut y);
        k::add(&x, &y, &mut z).unwrap();
        k::add_assign(&mut z, &x).unwrap();
        k::mul(&x, &y, &mut z).unwrap();
        k::mul_assign(&mut z, &x).unwrap();
        k::fill(&mut z, 0.0);
        k::exp(&x, &mut z).unwrap();
        std::hint::black_box(simd::exp_f32(1.0));
        k::gelu(&x, &mut z).unwrap();
        k::gelu_backward(&x, &y, &mut z, Accum::Add).unwrap();
        let stats = k::layer_norm(&x, &ones, &y, 1e-5, &mut z).unwrap();
        k::layer_norm_backward(&x, stats, &ones, &y, &mut z, &mut dg, &mut db, Accum::Add).unwrap();
        k::layer_norm_rows(
            rm,
            &ones,
            &y,
            1e-5,
            MatMut::new(&mut rows_out, 4, n).unwrap(),
            &mut st,
        )
        .unwrap();
        k::layer_norm_backward_rows(
            rm,
            &st,
            &ones,
            rm,
            MatMut::new(&mut rows_out, 4, n).unwrap(),
            &mut dg,
            &mut db,
            Accum::Overwrite,
        )
        .unwrap();
        k::softmax_backward_in_place(&y, &mut z).unwrap();
        let _ = k::layer_norm(&[f32::NAN], &[1.0], &[0.0], 1e-5, &mut [0.0]).unwrap_err();

        k::sgd(&mut p, &x, 0.1).unwrap();
        k::sgd_momentum(&mut p, &x, &mut vel, 0.1, 0.9).unwrap();
        Adam::default()
            .step(1, &mut p, &x, &mut mo, &mut vo)
            .unwrap();
        k::clip_grad_norm(&mut [&mut p, &mut g2], 0.5).unwrap();
        k::zero_grads(&mut [&mut g2]);
        k::accumulate(&mut g2, &[1.0; 9]).unwrap();
        // error paths build their errors without allocating too
        let _ = k::softmax(&[f32::NAN], &mut [0.0]).unwrap_err();
        let _ = k::cross_entropy(&x, 1000, &mut y).unwrap_err();
        let _ = MatRef::new(&x, 2, 2).unwrap_err();
    }
    assert_eq!(allocations() - before, 0, "kernels allocated");
    // the counter itself works
    let v = std::hint::black_box(vec![1_u8; 16]);
    assert!(
        allocations() > before,
        "counting allocator saw {v:?} allocated"
    );
}

#[test]
fn attention_model_trains_and_generates_without_allocating() {
    type Lm = AttentionLm<16, 12, 16, 8>;
    // All state is allocated up front (here in Boxes; in firmware, statics).
    let mut model = Box::new(Lm::ZERO);
    let mut grads = Box::new(Lm::ZERO);
    let mut cache = Box::new(AttentionCache::ZERO);
    let mut state = Box::new(AttentionOptState::ZERO);
    let mut dec = Box::new(Decoder::ZERO);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let tokens = [1_u16, 5, 2, 9, 3, 3, 7, 1, 4];
    let mut out = [0_u16; 3];
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(0.01)),
        max_grad_norm: Some(1.0),
    };
    let before = allocations();
    model.init(&mut rng);
    model.forward(&tokens, &mut cache).unwrap();
    model.backward(&mut cache, &mut grads).unwrap();
    model
        .train_step(&tokens, &mut cache, &mut grads, &mut state, &cfg)
        .unwrap();
    model.forward_logits(&tokens[..3], &mut cache).unwrap();
    dec.prefill(model.weights(), &tokens[..4]).unwrap();
    dec.step(model.weights(), 2).unwrap();
    dec.sample(
        Sampling::TopK {
            k: 4,
            temperature: 0.7,
        },
        &mut rng,
    )
    .unwrap();
    dec.generate(
        model.weights(),
        &tokens[..2],
        &mut out,
        Sampling::Temperature(1.0),
        &mut rng,
    )
    .unwrap();
    let _ = model.forward(&[99, 1], &mut cache).unwrap_err();
    assert_eq!(allocations() - before, 0, "the model allocated");
}

#[test]
fn gpt_trains_generates_and_moves_through_safetensors_without_allocating() {
    type Tiny = Gpt<16, 12, 16, 4, 32, 2>;
    let mut model = Box::new(Tiny::ZERO);
    let mut grads = Box::new(Tiny::ZERO);
    let mut copy = Box::new(Tiny::ZERO);
    let mut cache = Box::new(GptCache::ZERO);
    let mut state = Box::new(GptOptState::ZERO);
    let mut dec = Box::new(GptDecoder::ZERO);
    let mut file = Box::new(Aligned([0_u8; Tiny::SAFETENSORS_BYTES]));
    let mut rng = rand_pcg::Pcg32::seed_from_u64(3);
    let tokens = [1_u16, 5, 2, 9, 3, 3, 7, 1, 4];
    let mut out = [0_u16; 3];
    let cfg = TrainConfig {
        optimizer: Optimizer::Adam(Adam::with_lr(0.01)),
        max_grad_norm: Some(1.0),
    };
    let before = allocations();
    model.init(&mut rng);
    model
        .train_step(&tokens, &mut cache, &mut grads, &mut state, &cfg)
        .unwrap();
    model.forward_logits(&tokens[..3], &mut cache).unwrap();
    dec.generate(
        &*model,
        &tokens[..2],
        &mut out,
        Sampling::Temperature(1.0),
        &mut rng,
    )
    .unwrap();
    model.to_safetensors(&mut file.0).unwrap();
    copy.load_safetensors(&file.0).unwrap();
    let weights = GptWeights::<16, 12, 16, 4, 32, 2>::from_safetensors(&file.0).unwrap();
    dec.prefill(weights, &tokens[..4]).unwrap();
    copy.load_safetensors(&file.0[..200]).unwrap_err();
    let _ = model.forward(&[99, 1], &mut cache).unwrap_err();
    assert_eq!(allocations() - before, 0, "the gpt allocated");
}

#[test]
fn safetensors_export_import_and_in_place_inference_do_not_allocate() {
    type Lm = AttentionLm<16, 12, 16, 8>;
    let mut model = Box::new(Lm::ZERO);
    let mut copy = Box::new(Lm::ZERO);
    let mut file = Box::new(Aligned([0_u8; Lm::SAFETENSORS_BYTES]));
    let mut cache = Box::new(AttentionCache::ZERO);
    let mut dec = Box::new(Decoder::ZERO);
    let mut w2v = Box::new(Word2Vec::<16, 8>::ZERO);
    let mut w2v_file = Box::new([0_u8; Word2Vec::<16, 8>::SAFETENSORS_BYTES]);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(2);
    let mut out = [0_u16; 4];
    model.init(&mut rng);
    let before = allocations();
    model.to_safetensors(&mut file.0).unwrap();
    copy.load_safetensors(&file.0).unwrap();
    let weights = AttentionWeights::<16, 12, 16, 8>::from_safetensors(&file.0).unwrap();
    weights.forward(&[1, 2, 3, 4], &mut cache).unwrap();
    dec.generate(weights, &[1, 2], &mut out, Sampling::Greedy, &mut rng)
        .unwrap();
    // Errors are built without allocating too.
    copy.load_safetensors(&file.0[..100]).unwrap_err();
    copy.load_safetensors(&file.0[..Lm::SAFETENSORS_BYTES - 1])
        .unwrap_err();
    w2v.to_safetensors(&mut w2v_file[..]).unwrap();
    w2v.load_safetensors(&w2v_file[..]).unwrap();
    w2v.load_safetensors(&file.0).unwrap_err();
    assert_eq!(allocations() - before, 0, "safetensors allocated");
}

#[test]
fn word2vec_builds_trains_and_queries_without_allocating() {
    let text = "the quick brown fox jumps over the lazy dog and the dog sleeps";
    let mut builder = Box::new(VocabBuilder::<32, 8>::new());
    let mut vocab = Box::new(Vocab::<16, 8>::ZERO);
    let mut model = Box::new(Word2Vec::<16, 8>::ZERO);
    let mut trainer = Box::new(Word2VecTrainer::<16, 8, 256>::ZERO);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
    let mut ids = [0_u16; 32];
    let mut out = heapless::String::<4096>::new();
    let mut copy = Box::new(Word2Vec::<16, 8>::ZERO);
    let mut vocab2 = Box::new(Vocab::<16, 8>::ZERO);
    let before = allocations();
    builder.add_text(text).unwrap();
    builder.build(1, &mut vocab);
    let n = vocab.encode(text, &mut ids);
    model.init(&mut rng);
    for architecture in [Architecture::SkipGram, Architecture::Cbow] {
        for objective in [Objective::NegativeSampling(3), Objective::Softmax] {
            let cfg = Word2VecConfig {
                architecture,
                objective,
                ..Word2VecConfig::default()
            };
            trainer.init(cfg, vocab.counts(), 100).unwrap();
            trainer
                .train_sentence(&mut model, &ids[..n], &mut rng)
                .unwrap();
        }
    }
    let dog = vocab.id("dog");
    std::hint::black_box(model.most_similar::<3>(dog, vocab.len()).unwrap());
    std::hint::black_box(
        model
            .analogy::<3>(dog, vocab.id("fox"), vocab.id("the"), vocab.len())
            .unwrap(),
    );
    std::hint::black_box(model.cosine(dog, 1).unwrap());
    model.write_text(&vocab, &mut out).unwrap();
    let written = core::mem::take(&mut out);
    assert_eq!(allocations() - before, 0, "word2vec allocated");
    copy.read_text(&written, &mut vocab2).unwrap();
    assert_eq!(
        allocations() - before,
        0,
        "reading the text format allocated"
    );
}

#[test]
fn layers_training_sampling_and_vocabularies_do_not_allocate() {
    use edgegrad::nn::{
        AttentionActs, AttentionScratch, CausalSelfAttention, CausalSelfAttentionGrads, KvCache,
        LayerNorm, LayerNormGrads, Linear, LinearGrads, Mlp, MlpActs, MlpGrads, Qkv,
    };
    use edgegrad::params::Params;
    use edgegrad::vocab::{CharCounter, CharVocab};
    let mut rng = common::Rng::new(51);
    let (l, d, w, f) = (5, 8, 8, 16);
    let x = rng.vec(l * d, -1.0, 1.0);
    let wqkv = rng.vec(d * 3 * w, -0.5, 0.5);
    let wo = rng.vec(w * d, -0.5, 0.5);
    let (w1, w2) = (rng.vec(d * f, -0.5, 0.5), rng.vec(f * d, -0.5, 0.5));
    let (g, b) = (vec![1.0; d], vec![0.0; d]);
    let mut y = vec![0.0; l * d];
    let (mut qkv, mut probs, mut ctx) =
        (vec![0.0; l * 3 * w], vec![0.0; 2 * l * l], vec![0.0; l * w]);
    let (mut dctx, mut dprobs, mut dqkv) =
        (vec![0.0; l * w], vec![0.0; l * l], vec![0.0; l * 3 * w]);
    let (mut dw, mut dwo, mut dx) = (vec![0.0; d * 3 * w], vec![0.0; w * d], vec![0.0; l * d]);
    let (mut keys, mut values) = (vec![0.0; l * w], vec![0.0; l * w]);
    let (mut q, mut scores, mut sctx, mut yr) =
        (vec![0.0; 3 * w], vec![0.0; l], vec![0.0; w], vec![0.0; d]);
    let (mut pre, mut post, mut scratch) = (vec![0.0; l * f], vec![0.0; l * f], vec![0.0; l * f]);
    let (mut dw1, mut dw2) = (vec![0.0; d * f], vec![0.0; f * d]);
    let (mut stats, mut dg, mut db) = (vec![[0.0; 2]; l], vec![0.0; d], vec![0.0; d]);
    let mut hidden = vec![0.0; f];
    let mut probs_v = vec![0.0; d];
    let mut counter = Box::new(CharCounter::<64>::new());
    let mut ids = [0_u16; 32];
    let mut text_out = heapless::String::<64>::new();
    edgegrad::params! {
        /// Two tensors.
        pub struct Pair<> {
            /// A matrix.
            a: edgegrad::tensor::Matrix<3, 4> = "a", edgegrad::params::Init::UniformFanIn;
            /// A vector.
            b: [f32; 4] = "b", edgegrad::params::Init::Normal { sd: 1.0 };
        }
    }
    let (mut p, mut gp) = (Box::new(Pair::ZERO), Box::new(Pair::ZERO));
    let mut state = Box::new(edgegrad::train::OptState::<Pair>::ZERO);
    let mut prng = rand_pcg::Pcg32::seed_from_u64(4);
    let before = allocations();
    {
        let xm = MatRef::new(&x, l, d).unwrap();
        let attn = CausalSelfAttention::new(
            Qkv::Fused(Linear::new(MatRef::new(&wqkv, d, 3 * w).unwrap(), None).unwrap()),
            Linear::new(MatRef::new(&wo, w, d).unwrap(), None).unwrap(),
            2,
        )
        .unwrap();
        let mut acts = AttentionActs {
            qkv: MatMut::new(&mut qkv, l, 3 * w).unwrap(),
            probs: &mut probs,
            ctx: MatMut::new(&mut ctx, l, w).unwrap(),
        };
        attn.forward(
            xm,
            &mut acts,
            MatMut::new(&mut y, l, d).unwrap(),
            Accum::Overwrite,
        )
        .unwrap();
        let mut grads = CausalSelfAttentionGrads {
            qkv: Qkv::Fused(LinearGrads {
                weight: MatMut::new(&mut dw, d, 3 * w).unwrap(),
                bias: None,
            }),
            proj: LinearGrads {
                weight: MatMut::new(&mut dwo, w, d).unwrap(),
                bias: None,
            },
        };
        let mut sc = AttentionScratch {
            dctx: MatMut::new(&mut dctx, l, w).unwrap(),
            dprobs: &mut dprobs,
            dqkv: MatMut::new(&mut dqkv, l, 3 * w).unwrap(),
        };
        attn.backward(
            xm,
            &acts,
            MatRef::new(&x, l, d).unwrap(),
            &mut grads,
            &mut sc,
            (MatMut::new(&mut dx, l, d).unwrap(), Accum::Overwrite),
        )
        .unwrap();
        let mut kv = KvCache {
            keys: MatMut::new(&mut keys, l, w).unwrap(),
            values: MatMut::new(&mut values, l, w).unwrap(),
            q: &mut q,
            scores: &mut scores,
            ctx: &mut sctx,
        };
        attn.step(&x[..d], 0, &mut kv, &mut yr, Accum::Overwrite)
            .unwrap();
        let mlp = Mlp {
            fc: Linear::new(MatRef::new(&w1, d, f).unwrap(), None).unwrap(),
            proj: Linear::new(MatRef::new(&w2, f, d).unwrap(), None).unwrap(),
        };
        let mut macts = MlpActs {
            pre: MatMut::new(&mut pre, l, f).unwrap(),
            post: MatMut::new(&mut post, l, f).unwrap(),
        };
        mlp.forward(
            xm,
            &mut macts,
            MatMut::new(&mut y, l, d).unwrap(),
            Accum::Add,
        )
        .unwrap();
        let mut mg = MlpGrads {
            fc: LinearGrads {
                weight: MatMut::new(&mut dw1, d, f).unwrap(),
                bias: None,
            },
            proj: LinearGrads {
                weight: MatMut::new(&mut dw2, f, d).unwrap(),
                bias: None,
            },
        };
        mlp.backward(
            xm,
            &macts,
            xm,
            &mut mg,
            MatMut::new(&mut scratch, l, f).unwrap(),
            (MatMut::new(&mut dx, l, d).unwrap(), Accum::Add),
        )
        .unwrap();
        mlp.step(&x[..d], &mut hidden, &mut yr, Accum::Overwrite)
            .unwrap();
        let ln = LayerNorm::new(&g, &b).unwrap();
        ln.forward(xm, MatMut::new(&mut y, l, d).unwrap(), &mut stats)
            .unwrap();
        ln.backward(
            xm,
            &stats,
            xm,
            &mut LayerNormGrads {
                weight: &mut dg,
                bias: &mut db,
            },
            (MatMut::new(&mut dx, l, d).unwrap(), Accum::Add),
        )
        .unwrap();
        ln.step(&x[..d], &mut yr).unwrap();
        // errors are built without allocating too
        let _ = CausalSelfAttention::new(Qkv::Fused(mlp.fc), mlp.proj, 3).unwrap_err();
    }
    p.init(&mut prng);
    gp.init(&mut prng);
    edgegrad::train::apply_gradients(
        &mut *p,
        &mut *gp,
        &mut state,
        &edgegrad::train::TrainConfig {
            optimizer: Optimizer::Adam(Adam::default()),
            max_grad_norm: Some(1.0),
        },
    )
    .unwrap();
    std::hint::black_box(edgegrad::params::global_norm(&*p));
    core::fmt::write(
        &mut text_out,
        format_args!("{}", Pair::tensor_name(1).unwrap()),
    )
    .unwrap();
    assert!(Pair::tensor_name(1).unwrap() == "b");
    std::hint::black_box(<Pair as Params>::LAYOUT.find("b"));
    edgegrad::sample::sample(
        &x[..d],
        Sampling::TopK {
            k: 3,
            temperature: 0.5,
        },
        &mut probs_v,
        &mut prng,
    )
    .unwrap();
    counter.add_text("hello, world").unwrap();
    let v: CharVocab<8> = counter.most_frequent('?');
    let n = v.encode("hello", &mut ids);
    text_out.clear();
    core::fmt::write(&mut text_out, format_args!("{}", v.decode(&ids[..n]))).unwrap();
    assert_eq!(
        allocations() - before,
        0,
        "layers, training, sampling or vocabularies allocated"
    );
    assert_eq!(text_out, "hello");
}
