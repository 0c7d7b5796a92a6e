//! The vocabularies on arbitrary strings and ids: `VocabBuilder` (counting, building),
//! `Vocab` (lookups, encoding, `set_words`), `CharVocab` and `CharCounter`, and the
//! `words` tokenizer, in arbitrary sequences. What is checked:
//!
//! - no panic, for any string, id, capacity edge (`V = 1`, `V = 0`);
//! - `Err` changes nothing (`add_word`, `set_words`, `set_chars`), or exactly what the
//!   docs say (`add_text` of both counters: the text before the failing word or
//!   character is counted, the rest is not) — compared with a twin fed one item at a
//!   time;
//! - `Ok` exactly when the docs say (`set_words`, `set_chars`, `fits`), and the
//!   documented invariants after every change: a `Vocab`'s words are distinct,
//!   non-empty, without whitespace, lower-cased, and `id(word(i)) == i`; `build` keeps
//!   the most frequent words in order, with counts that add up to what was counted;
//!   `encode` writes `min(out.len(), words)` ids below `len` and nothing past them; a
//!   `CharVocab`'s characters are distinct and its `Display` reads back with
//!   `from_chars`.
#![no_main]

mod common;

use common::Gen;
use edgegrad::Error;
use edgegrad::vocab::{CharCounter, CharVocab, UNK, Vocab, VocabBuilder, words};
use libfuzzer_sys::fuzz_target;

const L: usize = 6;
const CAP: usize = 16;
type Builder = VocabBuilder<CAP, L>;

fuzz_target!(|data: &[u8]| {
    let mut g = Gen::new(data);
    let mut builder = Builder::new();
    // Every word the builder counted, in order (to build a twin).
    let mut log: Vec<String> = Vec::new();
    let mut vocab = Box::new(Vocab::<8, L>::ZERO);
    let mut tiny = Box::new(Vocab::<1, L>::ZERO);
    let mut cv = CharVocab::<6>::EMPTY;
    let mut cc = CharCounter::<8>::new();
    for _ in 0..12 {
        match g.byte() % 14 {
            0 | 1 => {
                let w = text(&mut g, 10);
                let before = snapshot(&builder);
                match builder.add_word(&w) {
                    Ok(()) => log.push(w),
                    Err(e) => ensure!(
                        snapshot(&builder) == before,
                        "err-unchanged",
                        "add_word({w:?}) -> {e:?} changed the builder"
                    ),
                }
            }
            2 => {
                let t = text(&mut g, 60);
                // The twin counts word by word and stops at the first refusal.
                let mut twin = replay(&log);
                let mut twin_log = log.clone();
                let mut refused = false;
                for w in words(&t) {
                    if twin.add_word(w).is_err() {
                        refused = true;
                        break;
                    }
                    twin_log.push(w.to_string());
                }
                let r = builder.add_text(&t);
                ensure!(
                    r.is_err() == refused && snapshot(&builder) == snapshot(&twin),
                    "err-as-documented",
                    "add_text({t:?}) = {r:?}: the builder differs from one fed its words one by one (refused: {refused})"
                );
                log = twin_log;
            }
            3 | 4 => {
                let min_count = [0, 1, 2, 3, u64::MAX][usize::from(g.byte()) % 5];
                builder.build(min_count, &mut vocab);
                check_built(&vocab, &log, min_count);
                builder.build(min_count, &mut tiny);
                check_built(&tiny, &log, min_count);
            }
            5 | 6 => {
                let n = if g.byte() < 230 {
                    g.range(0, 8)
                } else {
                    g.range(0, 12)
                };
                let ws: Vec<String> = (0..n).map(|_| text(&mut g, 8)).collect();
                if g.bool() {
                    set_words(&mut vocab, &ws);
                } else {
                    set_words(&mut tiny, &ws);
                }
            }
            7 => {
                let t = text(&mut g, 40);
                lookups(&vocab, &t, &mut g);
                lookups(&tiny, &t, &mut g);
            }
            8 => {
                let s = text(&mut g, 8);
                let before = cv;
                let expect = {
                    let cs: Vec<char> = s.chars().collect();
                    let distinct = cs.iter().enumerate().all(|(i, c)| !cs[..i].contains(c));
                    !cs.is_empty() && cs.len() <= 6 && distinct
                };
                match cv.set_chars(&s) {
                    Ok(()) => {
                        ensure!(expect, "ok-as-documented", "set_chars({s:?}) accepted");
                        ensure!(
                            cv.chars().iter().copied().eq(s.chars()),
                            "ok-as-documented",
                            "set_chars({s:?}) gave {:?}",
                            cv.chars()
                        );
                    }
                    Err(e) => {
                        ensure!(
                            !expect,
                            "ok-as-documented",
                            "set_chars({s:?}) refused: {e:?}"
                        );
                        ensure!(
                            cv == before,
                            "err-unchanged",
                            "set_chars({s:?}) -> {e:?} changed the vocabulary"
                        );
                    }
                }
                check_chars(&cv);
                let empty = CharVocab::<0>::from_chars(&s);
                ensure!(
                    empty.is_err(),
                    "ok-as-documented",
                    "CharVocab::<0>::from_chars({s:?}) = {empty:?}"
                );
            }
            9 => {
                let t = text(&mut g, 30);
                let other = any_char(&mut g);
                cv.set_first_seen(&t, other);
                ensure!(
                    cv.chars().last() == Some(&other),
                    "ok-as-documented",
                    "first_seen({t:?}, {other:?}) = {:?}",
                    cv.chars()
                );
                check_chars(&cv);
                let zero = CharVocab::<0>::first_seen(&t, other);
                ensure!(
                    zero.is_empty(),
                    "ok-as-documented",
                    "CharVocab::<0>::first_seen = {zero:?}"
                );
                let one = CharVocab::<1>::first_seen(&t, other);
                ensure!(
                    one.chars() == [other],
                    "ok-as-documented",
                    "CharVocab::<1>::first_seen = {one:?}"
                );
                char_lookups(&zero, &t, &mut g);
                char_lookups(&one, &t, &mut g);
            }
            10 => {
                let t = text(&mut g, 30);
                char_lookups(&cv, &t, &mut g);
            }
            11 => {
                let t = text(&mut g, 30);
                let mut twin = cc.clone();
                let mut refused = false;
                for c in t.chars() {
                    if twin.add_text(c.encode_utf8(&mut [0; 4])).is_err() {
                        refused = true;
                        break;
                    }
                }
                let r = cc.add_text(&t);
                ensure!(
                    r.is_err() == refused && format!("{cc:?}") == format!("{twin:?}"),
                    "err-as-documented",
                    "CharCounter::add_text({t:?}) = {r:?}: differs from a counter fed its characters one by one"
                );
            }
            12 => {
                let other = any_char(&mut g);
                let v = cc.most_frequent::<6>(other);
                check_chars(&v);
                ensure!(
                    v.chars().last() == Some(&other) && v.len() <= 6,
                    "ok-as-documented",
                    "most_frequent('{other}') = {v:?}"
                );
                let z = cc.most_frequent::<0>(other);
                ensure!(
                    z.is_empty(),
                    "ok-as-documented",
                    "most_frequent::<0> = {z:?}"
                );
            }
            _ => {
                let w = text(&mut g, 10);
                let lower: String = w.chars().flat_map(char::to_lowercase).collect();
                let expect =
                    !w.is_empty() && !w.chars().any(char::is_whitespace) && lower.len() <= L;
                ensure!(
                    Vocab::<8, L>::fits(&w) == expect,
                    "ok-as-documented",
                    "fits({w:?}) = {}",
                    !expect
                );
            }
        }
    }
});

/// A string: plain words mostly, anything sometimes.
fn text(g: &mut Gen, max: usize) -> String {
    if g.byte() < 100 {
        let n = g.range(0, max / 3 + 1);
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(if g.byte() < 200 { ' ' } else { ',' });
            }
            let len = g.range(1, 8);
            for _ in 0..len {
                let b = g.byte();
                s.push(if b < 200 {
                    char::from(b'a' + b % 5)
                } else {
                    char::from(b'A' + b % 5)
                });
            }
        }
        s
    } else {
        g.string(max)
    }
}

fn any_char(g: &mut Gen) -> char {
    let s = g.string(1);
    s.chars().next().unwrap_or('?')
}

/// What a builder holds: its distinct words and their counts, built into a vocabulary
/// that keeps them all.
fn snapshot(b: &Builder) -> String {
    let mut v = Box::new(Vocab::<{ CAP + 1 }, L>::ZERO);
    b.build(0, &mut v);
    format!("{} {:?}", b.distinct(), v)
}

fn replay(log: &[String]) -> Builder {
    let mut b = Builder::new();
    for w in log {
        let _ = b.add_word(w);
    }
    b
}

/// The documented invariants of every vocabulary.
fn check_vocab<const V: usize>(v: &Vocab<V, L>) {
    let len = v.len();
    ensure!(
        (1..=V).contains(&len),
        "vocab-invariant",
        "len {len} (V = {V})"
    );
    ensure!(
        v.counts().len() == len,
        "vocab-invariant",
        "counts() has {} entries, len {len}",
        v.counts().len()
    );
    for i in 1..len {
        let w = v.word(i as u16);
        let lower: String = w.chars().flat_map(char::to_lowercase).collect();
        ensure!(
            Vocab::<V, L>::fits(w) && lower == w && v.id(w) == i as u16,
            "vocab-invariant",
            "word {i} = {w:?}: fits {}, lower-cased {lower:?}, id {} — {v:?}",
            Vocab::<V, L>::fits(w),
            v.id(w)
        );
    }
    ensure!(
        v.word(UNK) == "<unk>",
        "vocab-invariant",
        "word(UNK) = {:?}",
        v.word(UNK)
    );
    ensure!(
        v.word(len as u16).is_empty() || len >= 65_536,
        "vocab-invariant",
        "word(len) = {:?}",
        v.word(len as u16)
    );
}

fn check_built<const V: usize>(v: &Vocab<V, L>, log: &[String], min_count: u64) {
    check_vocab(v);
    let total = log.iter().filter(|w| !w.is_empty()).count() as u64;
    let sum: u64 = v.counts().iter().sum();
    ensure!(
        sum == total,
        "build",
        "counts add up to {sum}, {total} words counted: {v:?} from {log:?}"
    );
    for i in 1..v.len() {
        let (w, c) = (v.word(i as u16), v.count(i as u16));
        ensure!(
            c >= min_count.max(1),
            "build",
            "word {w:?} kept with count {c} < {min_count}"
        );
        if i > 1 {
            let (pw, pc) = (v.word(i as u16 - 1), v.count(i as u16 - 1));
            ensure!(
                pc > c || (pc == c && pw < w),
                "build",
                "order: {pw:?} ({pc}) before {w:?} ({c})"
            );
        }
    }
}

fn set_words<const V: usize>(v: &mut Vocab<V, L>, ws: &[String]) {
    let before = format!("{v:?}");
    let lower: Vec<String> = ws
        .iter()
        .map(|w| w.chars().flat_map(char::to_lowercase).collect())
        .collect();
    let expect = ws.len() < V
        && ws.iter().all(|w| Vocab::<V, L>::fits(w))
        && lower
            .iter()
            .enumerate()
            .all(|(i, w)| !lower[..i].contains(w));
    match v.set_words(ws.iter().map(String::as_str)) {
        Ok(()) => {
            ensure!(
                expect,
                "ok-as-documented",
                "set_words({ws:?}) accepted (V = {V})"
            );
            ensure!(
                v.len() == ws.len() + 1
                    && lower
                        .iter()
                        .enumerate()
                        .all(|(i, w)| v.word(i as u16 + 1) == w && v.count(i as u16 + 1) == 0),
                "ok-as-documented",
                "set_words({ws:?}) gave {v:?}"
            );
        }
        Err(e) => {
            ensure!(
                !expect,
                "ok-as-documented",
                "set_words({ws:?}) refused: {e:?} (V = {V})"
            );
            ensure!(
                matches!(
                    e,
                    Error::InvalidLength { .. } | Error::InvalidParameter { .. }
                ),
                "err-as-documented",
                "set_words({ws:?}) -> {e:?}"
            );
            ensure!(
                format!("{v:?}") == before,
                "err-unchanged",
                "set_words({ws:?}) -> {e:?} changed the vocabulary"
            );
        }
    }
    check_vocab(v);
}

fn lookups<const V: usize>(v: &Vocab<V, L>, t: &str, g: &mut Gen) {
    let len = v.len();
    let id = v.id(t);
    ensure!(
        usize::from(id) < len,
        "lookup",
        "id({t:?}) = {id}, len {len}"
    );
    let lower: String = t.chars().flat_map(char::to_lowercase).collect();
    if id != UNK {
        ensure!(
            v.word(id) == lower,
            "lookup",
            "id({t:?}) = {id}, whose word is {:?}",
            v.word(id)
        );
    }
    let any = g.u16();
    let _ = (v.word(any), v.count(any));
    let n_out = g.range(0, 12);
    let mut out = vec![u16::MAX; n_out];
    let n = v.encode(t, &mut out);
    let expect = n_out.min(words(t).count());
    ensure!(
        n == expect
            && out[..n].iter().all(|&i| usize::from(i) < len)
            && out[n..].iter().all(|&i| i == u16::MAX),
        "encode",
        "encode({t:?}) into {n_out} = {n}: {out:?} (expected {expect})"
    );
    for (w, &i) in words(t).zip(&out[..n]) {
        ensure!(
            i == v.id(w),
            "encode",
            "encode({t:?}): {w:?} -> {i}, id() says {}",
            v.id(w)
        );
    }
}

fn check_chars<const V: usize>(v: &CharVocab<V>) {
    let cs = v.chars();
    ensure!(
        cs.len() == v.len()
            && cs.len() <= V
            && cs.iter().enumerate().all(|(i, c)| !cs[..i].contains(c)),
        "charvocab-invariant",
        "{v:?}"
    );
    if !v.is_empty() {
        let back = CharVocab::<V>::from_chars(&v.to_string());
        ensure!(
            back == Ok(*v),
            "charvocab-invariant",
            "{v:?} displays as {:?}, which reads back as {back:?}",
            v.to_string()
        );
    }
}

fn char_lookups<const V: usize>(v: &CharVocab<V>, t: &str, g: &mut Gen) {
    let n_out = g.range(0, 12);
    let mut out = vec![u16::MAX; n_out];
    let n = v.encode(t, &mut out);
    let expect = n_out.min(t.chars().count());
    ensure!(
        n == expect
            && out[..n].iter().all(|&i| usize::from(i) < v.len().max(1))
            && out[n..].iter().all(|&i| i == u16::MAX),
        "encode",
        "CharVocab {v:?}: encode({t:?}) into {n_out} = {n}: {out:?}"
    );
    let decoded: Vec<char> = v.decode(&out[..n]).to_string().chars().collect();
    let last = v.chars().last().copied().unwrap_or('\u{FFFD}');
    ensure!(
        decoded.len() == n && t.chars().zip(&decoded).all(|(c, &d)| d == c || d == last),
        "decode",
        "CharVocab {v:?}: decode(encode({t:?})) = {decoded:?}"
    );
    let any = g.u16();
    let c = v.char(any);
    ensure!(
        v.is_empty() || v.chars().contains(&c),
        "decode",
        "char({any}) = {c:?}"
    );
    let _ = v.id(any_char(g));
}
