//! The word2vec text format: `Word2Vec::read_text` on arbitrary text (raw bytes, and
//! files built line by line with every kind of damage), `write_text` on arbitrary
//! models and vocabularies. What is checked:
//!
//! - no panic;
//! - a refused file leaves the model and the vocabulary bit-identical;
//! - an accepted file gives finite input vectors, zero output vectors and zero rows
//!   past the file's words, and round-trips: `write_text` accepts it, `read_text`
//!   reads that text back to the same bits and the same vocabulary, and writing again
//!   gives the same text;
//! - `write_text` refuses (writing nothing) exactly what could not be read back, and
//!   whatever it writes reads back to the same words and bits.
#![no_main]

mod common;

use common::{Gen, all_finite, param_bits};
use edgegrad::params::ParamsMut;
use edgegrad::vocab::Vocab;
use edgegrad::word2vec::Word2Vec;
use libfuzzer_sys::fuzz_target;

const V: usize = 8;
const D: usize = 3;
const L: usize = 6;
type W2v = Word2Vec<V, D>;
type Voc = Vocab<V, L>;

fuzz_target!(|data: &[u8]| {
    let mut g = Gen::new(data);
    // A model and a vocabulary that hold something before the read.
    let mut model = Box::new(W2v::ZERO);
    let arbitrary = g.bool();
    for i in 0..2 {
        for x in model.tensor_mut(i) {
            *x = if arbitrary {
                g.f32()
            } else {
                f32::from(g.byte()) * 0.125 - 16.0
            };
        }
    }
    let mut vocab = Box::new(Voc::ZERO);
    let n = g.range(0, V);
    let words: Vec<String> = (0..n).map(|_| word(&mut g)).collect();
    let _ = vocab.set_words(words.iter().map(String::as_str));

    // Writing first: a refused model writes nothing; a written one reads back.
    let mut out = String::new();
    match model.write_text(&*vocab, &mut out) {
        Ok(()) => round_trip(&model, &vocab, &out, "write_text of the starting model"),
        Err(e) => ensure!(
            out.is_empty(),
            "err-writes-nothing",
            "write_text -> {e:?} wrote {out:?}"
        ),
    }

    let text = if g.byte() < 64 {
        String::from_utf8_lossy(g.u.take_rest()).into_owned()
    } else {
        file(&mut g)
    };
    let (m0, v0) = (param_bits(&*model), format!("{vocab:?}"));
    match model.read_text(&text, &mut vocab) {
        Err(e) => ensure!(
            param_bits(&*model) == m0 && format!("{vocab:?}") == v0,
            "err-unchanged",
            "read_text({text:?}) -> {e:?} changed the model or the vocabulary"
        ),
        Ok(()) => {
            let len = vocab.len();
            ensure!(
                all_finite(model.input.as_slice())
                    && model.output.as_slice().iter().all(|&x| x.to_bits() == 0)
                    && model.input.as_slice()[len * D..]
                        .iter()
                        .all(|&x| x.to_bits() == 0)
                    && model.input.as_slice()[..D]
                        .iter()
                        .all(|&x| x.to_bits() == 0),
                "ok-read",
                "read_text({text:?}): input {:?}, output {:?}",
                model.input,
                model.output
            );
            let mut out = String::new();
            let written = model.write_text(&*vocab, &mut out);
            ensure!(
                written.is_ok(),
                "round-trip",
                "read_text({text:?}) accepted, but write_text refuses it: {written:?}"
            );
            round_trip(&model, &vocab, &out, &format!("read_text({text:?})"));
        }
    }
});

/// `text` (what `model` and `vocab` wrote) reads back to the same bits and words, and
/// writes again to the same text.
fn round_trip(model: &W2v, vocab: &Voc, text: &str, what: &str) {
    let mut m2 = Box::new(W2v::ZERO);
    m2.input.as_mut_slice().fill(7.0);
    let mut v2 = Box::new(Voc::ZERO);
    let read = m2.read_text(text, &mut v2);
    ensure!(
        read.is_ok(),
        "round-trip",
        "{what}: wrote {text:?}, which read_text refuses: {read:?}"
    );
    let len = vocab.len();
    ensure!(
        v2.len() == len && (1..len).all(|i| v2.word(i as u16) == vocab.word(i as u16)),
        "round-trip",
        "{what}: words differ after a round trip: {vocab:?} vs {v2:?}"
    );
    let rows = |m: &W2v| {
        m.input.as_slice()[D..len * D]
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    ensure!(
        rows(model) == rows(&m2),
        "round-trip",
        "{what}: vectors differ after a round trip through {text:?}: {:?} vs {:?}",
        model.input,
        m2.input
    );
    let mut again = String::new();
    let rewritten = m2.write_text(&*v2, &mut again);
    ensure!(
        rewritten.is_ok() && again == text,
        "round-trip",
        "{what}: wrote {text:?}, read back and wrote {again:?} ({rewritten:?})"
    );
}

/// A word: mostly short and plain, sometimes upper-case, long, with whitespace or
/// non-ASCII characters.
fn word(g: &mut Gen) -> String {
    match g.byte() % 8 {
        0..=3 => {
            let n = g.range(1, 5);
            (0..n).map(|_| char::from(b'a' + g.byte() % 6)).collect()
        }
        4 => {
            let n = g.range(1, 4);
            (0..n).map(|_| char::from(b'A' + g.byte() % 6)).collect()
        }
        5 => [
            "<unk>", "İ", "ß", "ẞ", "Σ", "ﬁ", "ǅ", "é", "ÉÉÉ", "aaaaaaa", "𝔸", "\u{212A}",
        ][usize::from(g.byte()) % 12]
            .to_string(),
        _ => g.string(8),
    }
}

/// A number as a file may spell it.
fn number(g: &mut Gen) -> String {
    match g.byte() % 16 {
        0..=7 => format!("{}", g.f32()),
        8 => format!("{:e}", g.f32()),
        9 => [
            "1e39", "-1e39", "nan", "inf", "-inf", "NaN", "infinity", "1e-46", "-0", "+1", ".5",
            "1.", "0x10", "1_0", "", "e5",
        ][usize::from(g.byte()) % 16]
            .to_string(),
        10 => format!("{}", g.f32() as f64 * 1.000_000_1),
        11 => format!("{:.3}", g.f32()),
        _ => format!("{}", f32::from(g.byte() as i8) / 8.0),
    }
}

/// A file in the word2vec text format, built line by line, with damage.
fn file(g: &mut Gen) -> String {
    let count = if g.byte() < 220 {
        g.range(0, V - 1)
    } else {
        g.range(0, 3 * V)
    };
    let dims = if g.byte() < 230 { D } else { g.range(0, 5) };
    let mut s = match g.byte() % 16 {
        0 => format!("{count}"),
        1 => format!("{count} {dims} 1"),
        2 => format!(" {count}\t{dims} "),
        3 => format!("+{count} 0{dims}"),
        4 => format!("-{count} {dims}"),
        5 => String::new(),
        _ => format!("{count} {dims}"),
    };
    let newline = if g.byte() < 230 { "\n" } else { "\r\n" };
    let lines = if g.byte() < 220 {
        count
    } else {
        g.range(0, count + 2)
    };
    for _ in 0..lines {
        s.push_str(newline);
        match g.byte() % 32 {
            0 => {}                         // an empty line
            1 => s.push_str(&g.string(20)), // anything
            _ => {
                s.push_str(&word(g));
                let numbers = if g.byte() < 240 {
                    dims
                } else {
                    g.range(0, dims + 2)
                };
                for _ in 0..numbers {
                    s.push_str(if g.byte() < 240 { " " } else { "\t " });
                    s.push_str(&number(g));
                }
            }
        }
    }
    if g.bool() {
        s.push_str(newline);
    }
    if g.byte() > 240 {
        s.push_str(if g.bool() {
            "\n\n  \n"
        } else {
            "\ntrailing 1 2 3"
        });
    }
    s
}
